"""`watcher run` as a systemd service: the notify protocol on a real
NOTIFY_SOCKET datagram socket, the stored heartbeat `watcher health` reads,
the journal's log form and JSON logs, and the unit files (systemd-analyze)."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from newsroom import Newsroom, write_config

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"


def watcher(config, *args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "watcher", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


def receive(sock, wanted, seen):
    """Datagrams until one holds ``wanted`` (a guard timeout only against a hang)."""
    while True:
        data = sock.recv(4096).decode()
        seen.append(data)
        if wanted in data.split("\n"):
            return data


def run_daemon(config, address, sock, *extra, stderr=subprocess.PIPE, env=None):
    env = {**os.environ, "NOTIFY_SOCKET": address, "WATCHDOG_USEC": "120000000", **(env or {})}
    daemon = subprocess.Popen(
        [sys.executable, "-m", "watcher", "--config", str(config), "run", *extra],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        env=env,
        pass_fds=() if stderr is subprocess.PIPE else (stderr,),
    )
    seen = []
    try:
        ready = receive(sock, "READY=1", seen)
        receive(sock, "WATCHDOG=1", seen)
        healthy = watcher(config, "health")
        daemon.send_signal(signal.SIGTERM)
        stopping = receive(sock, "STOPPING=1", seen)
        daemon.wait(timeout=60)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    return daemon, seen, ready, stopping, healthy


def test_ready_watchdog_and_stopping_reach_a_notify_socket_and_the_journal_gets_no_timestamps(
    tmp_path, server
):
    room = Newsroom(server)
    room.add_seed_articles()
    config = write_config(tmp_path, [("Example News", room.publish())])
    path = tmp_path / "notify.sock"
    read_end, write_end = os.pipe()
    journal = os.fstat(write_end)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(90)
        try:
            daemon, seen, ready, stopping, healthy = run_daemon(
                config,
                str(path),
                sock,
                stderr=write_end,
                env={"JOURNAL_STREAM": f"{journal.st_dev}:{journal.st_ino}"},
            )
        finally:
            os.close(write_end)
    with os.fdopen(read_end, encoding="utf-8") as stream:
        log = stream.read()
    assert daemon.returncode == 0, log
    # READY comes first, with a status line for `systemctl status`; the scheduler
    # loop then pings the watchdog; SIGTERM says STOPPING before the daemon exits.
    assert seen[0].split("\n") == ["READY=1", "STATUS=watching 1 feed(s)"]
    assert "STOPPING=1" in stopping.split("\n")
    assert seen.index(stopping) > min(i for i, d in enumerate(seen) if d == "WATCHDOG=1")
    # The heartbeat the loop stored: `watcher health` (the container's HEALTHCHECK) says healthy.
    assert healthy.returncode == 0 and healthy.stdout.startswith("healthy: "), healthy.stdout
    # Under systemd the journal stamps each line: no timestamp of our own, the priority as <N>.
    lines = [line for line in log.splitlines() if line]
    assert any(line.startswith("<6>watcher.daemon: watching 1 feed(s)") for line in lines), log
    assert all(line.startswith("<") and line[1].isdigit() and line[2] == ">" for line in lines), log


def test_an_abstract_notify_socket_and_json_logs(tmp_path, server):
    room = Newsroom(server)
    room.add_seed_articles()
    config = write_config(tmp_path, [("Example News", room.publish())])
    name = f"watcher-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(90)
        daemon, seen, ready, stopping, healthy = run_daemon(config, "@" + name, sock, "--log-format", "json")
        err = daemon.stderr.read().decode()
    assert daemon.returncode == 0, err
    assert "READY=1" in ready.split("\n") and "STOPPING=1" in stopping.split("\n")
    records = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert {"time", "level", "logger", "message"} <= set(records[0])
    assert any(
        r["message"].startswith("watching 1 feed(s)")
        and r["message"].endswith("; database " + str(tmp_path / "watcher.db"))
        for r in records
    )


def test_health_says_why_not_without_a_daemon(tmp_path, server):
    config = write_config(tmp_path, [("Example News", server.url("/feed.xml"))])
    out = watcher(config, "health")
    assert out.returncode == 1 and out.stdout.startswith("unhealthy: no database at "), out.stdout
    assert not (tmp_path / "watcher.db").exists()  # a health check creates nothing
    (tmp_path / "watcher.db").write_bytes(b"this is not a database at all" * 100)
    out = watcher(config, "health", "--json")
    verdict = json.loads(out.stdout)
    assert out.returncode == 1 and verdict["healthy"] is False
    assert "does not open" in verdict["reason"], verdict


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_unit_files_pass_systemd_analyze_verify(tmp_path):
    """The units as shipped, with ExecStart pointing at a watcher that exists here."""
    installed = shutil.which("watcher") or str(Path(sys.executable).with_name("watcher"))
    for unit in UNITS.iterdir():
        text = unit.read_text(encoding="utf-8").replace("/usr/local/bin/watcher", installed)
        (tmp_path / unit.name).write_text(text, encoding="utf-8")
    units = sorted(str(p) for p in tmp_path.iterdir())
    out = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *units], capture_output=True, text=True, timeout=120
    )
    problems = [
        line
        for line in out.stderr.splitlines()
        # the test machine has no "watcher" user or network-online target of its own
        if line.strip() and "network-online.target" not in line
    ]
    assert out.returncode == 0 and problems == [], out.stderr
