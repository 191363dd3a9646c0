"""Helpers for the distributed-mode tests: distributed mode's real parts: Debian's redis-server on a loopback port,
real `watcher worker` and `watcher run` processes, and a newsroom of loopback
feeds that each list one real news page."""

from __future__ import annotations

import gzip
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from httpserver import LoopbackServer, free_port
from newsroom import REAL_PAGES, Newsroom, write_config
from support import REAL

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
SCRAPINGHUB = REAL / "html" / "scrapinghub"


class RedisServer:
    """A redis-server of our own on a free loopback port, without persistence
    (a restart loses every key, as a crash of an unpersisted Redis does)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.folder),
                "--logfile", str(self.folder / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not self.answers():
            assert self.process.poll() is None, (self.folder / "redis.log").read_text()
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def restart(self) -> None:
        self.kill()
        self.start()


def real_pages() -> list[tuple[str, bytes]]:
    """(name, bytes) of every real news page in the fixtures."""
    pages = [(p.stem, p.read_bytes()) for p in sorted(REAL_PAGES.glob("*.html"))]
    pages += [
        (p.name.split(".")[0][:16], gzip.decompress(p.read_bytes()))
        for p in sorted(SCRAPINGHUB.glob("*.html.gz"))
    ]
    return pages


def newsroom(server: LoopbackServer, feeds: int) -> list[tuple[str, str]]:
    """``feeds`` loopback feeds, each listing one real page of its own (the real
    pages taken in turn): (name, feed URL) for the config."""
    pages = real_pages()
    urls = []
    for i in range(feeds):
        name, body = pages[i % len(pages)]
        room = Newsroom(server)
        room.add(f"/f{i}/{name}.html", f"Report {i}: {name.replace('-', ' ')}", body, summary=f"Summary {i}")
        urls.append((f"Feed {i}", room.publish(f"/f{i}/feed.xml", f"Feed {i}")))
    return urls


def distributed_config(tmp_path: Path, server: LoopbackServer, redis: RedisServer, feeds: int) -> Path:
    return write_config(
        tmp_path,
        newsroom(server, feeds),
        network="per_host = 256\nmax_connections = 8",
        extraction="workers = 1",
        extra=f'[workers]\nbroker = "{redis.url}"\nvisibility_timeout = "3s"\nthreads = 4\npolls = 48\n',
    )


def start(config: Path, log: Path, *args: str) -> subprocess.Popen[str]:
    """`watcher --config CONFIG ARGS...` in a process of its own, its log in ``log``."""
    with open(log, "a") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "watcher", "--config", str(config), *args],
            stdout=subprocess.DEVNULL,
            stderr=out,
            text=True,
        )


def stop(proc: subprocess.Popen[str], timeout: float = 60) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
