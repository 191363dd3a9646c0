"""One daemon per database: an exclusive lock on ``<database>.lock``, beside
the database's REAL path (symbolic links resolved), so a second daemon that
reaches the same file through a link, or through ``..`` and ``.``, finds the
lock taken."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from watcher.errors import DatabaseOpenError, LockError


class InstanceLock:
    """Held for the life of a ``watcher run``; released by the OS even on kill -9."""

    def __init__(self, database: Path) -> None:
        self.path = Path(f"{os.path.realpath(database)}.lock")
        self._fd: int | None = None

    def acquire(self) -> InstanceLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DatabaseOpenError(
                f"cannot create the lock file {self.path} beside the database ({exc.strerror or exc}); "
                "give this user write access to that folder, or fix [watcher] database in the config"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise LockError(
                f"another watcher (pid {holder}) is already running on this database "
                f"({self.path}); stop it first, or give this one another [watcher] database"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> InstanceLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
