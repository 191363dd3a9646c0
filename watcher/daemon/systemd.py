"""Telling the service manager how the daemon is doing: systemd's notify
protocol (sd_notify(3)), in the few lines it takes.

Under ``Type=notify`` systemd passes ``NOTIFY_SOCKET``, an AF_UNIX datagram
socket (a path, or ``@name`` in the abstract namespace), and waits for
``READY=1`` before it counts the service started. With ``WatchdogSec=`` it
also passes ``WATCHDOG_USEC`` (and ``WATCHDOG_PID``) and restarts the service
when no ``WATCHDOG=1`` arrives within that time; the daemon sends one from
its scheduler loop, so a wedged scheduler is restarted. ``STOPPING=1`` says
a shutdown has begun (SIGTERM), ``STATUS=`` is the line ``systemctl status``
shows.

Outside systemd (no ``NOTIFY_SOCKET``) every call does nothing. A message
that cannot be sent is logged once and never raised: the service manager's
absence must not stop the watcher.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger("watcher.daemon")


class ServiceManager:
    def __init__(self, address: str | None, *, watchdog_usec: int | None = None) -> None:
        self.address = address or None
        self.watchdog_usec = watchdog_usec
        self._warned = False

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], *, pid: int | None = None) -> ServiceManager:
        """The service manager that started this process, if any (``pid``: this process's)."""
        usec = environ.get("WATCHDOG_USEC", "")
        owner = environ.get("WATCHDOG_PID", "")
        for_us = not owner or owner == str(pid if pid is not None else os.getpid())
        return cls(
            environ.get("NOTIFY_SOCKET"),
            watchdog_usec=int(usec) if usec.isdigit() and int(usec) > 0 and for_us else None,
        )

    @property
    def active(self) -> bool:
        return self.address is not None

    @property
    def watchdog_seconds(self) -> float | None:
        """The watchdog's timeout, when systemd set one for this process."""
        return self.watchdog_usec / 1e6 if self.watchdog_usec else None

    def ready(self, status: str | None = None) -> None:
        self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def watchdog(self) -> None:
        self.notify("WATCHDOG=1")

    def stopping(self, status: str | None = "stopping") -> None:
        self.notify("STOPPING=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> None:
        self.notify(f"STATUS={text}")

    def notify(self, *fields: str) -> bool:
        """Send ``fields`` (``KEY=value`` lines) as one datagram; True if it was sent."""
        if not self.address:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        message = "\n".join(f.replace("\n", " ") for f in fields).encode("utf-8")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(message, target)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning("cannot notify the service manager at %s (%s)", self.address, exc)
            return False
        return True
