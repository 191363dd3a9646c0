"""The install as a newcomer gets it: a wheel built from this tree, installed
in a fresh virtual environment, used in an empty folder far from the checkout.

The wheel is built the way pip and pipx build it (an isolated build with the
setuptools pyproject.toml asks for). The fresh environment gets the wheel
itself; its dependencies are lent from the test environment through a path
entry (the test environment's own `watcher` is not importable from there: it
is an editable install, whose hook that path entry does not run), so the test
runs offline in seconds. The checks prove the wheel carries what the
commands need: the rule pack, the example config and the background corpus.
"""

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [
    "pyproject.toml",
    "setup.py",
    "MANIFEST.in",
    "README.md",
    "config.example.toml",
    "rules",
    "watcher",
]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source,
                src / name,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
            )
        else:
            shutil.copy2(source, src / name)
    # what a stray earlier build left in the package must not mask a missing copy step
    shutil.rmtree(src / "watcher" / "defaults" / "rules", ignore_errors=True)
    (src / "watcher" / "defaults" / "config.example.toml").unlink(missing_ok=True)
    dist = tmp_path_factory.mktemp("dist")
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    (built,) = dist.glob("watcher_news-*.whl")
    return built


@pytest.fixture(scope="module")
def fresh(tmp_path_factory, wheel) -> Path:
    """A new virtual environment with the wheel installed; returns its bin/ folder."""
    env = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=120)
    python = env / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "lent-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    out = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return env / "bin"


def test_the_wheel_carries_the_rule_pack_the_example_config_and_the_background(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "watcher/defaults/config.example.toml" in names
    assert "watcher/defaults/rules/turkey-syria-defence.toml" in names
    assert "watcher/defaults/rules/README.md" in names
    assert "watcher/defaults/background/wikinews-en.jsonl.gz" in names
    assert "watcher/defaults/background/SOURCE.md" in names
    assert "watcher/web/templates/review_stories.html" in names
    shipped = zipfile.ZipFile(wheel).read("watcher/defaults/rules/turkey-syria-defence.toml")
    assert shipped == (ROOT / "rules" / "turkey-syria-defence.toml").read_bytes()
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    assert "Name: watcher-news" in zipfile.ZipFile(wheel).read(metadata).decode()


def test_a_newcomer_in_an_empty_folder(fresh, tmp_path):
    home = tmp_path / "empty"
    home.mkdir()

    def watcher(*args):
        return subprocess.run(
            [str(fresh / "watcher"), *args],
            cwd=home,
            capture_output=True,
            text=True,
            timeout=300,
            env={"PATH": f"{fresh}:/usr/bin:/bin", "HOME": str(tmp_path)},
        )

    where = subprocess.run(
        [str(fresh / "python"), "-c", "import watcher; print(watcher.__file__)"],
        capture_output=True,
        text=True,
        cwd=home,
    )
    assert where.stdout.startswith(str(fresh.parent)), where  # the wheel's copy, not the checkout's

    version = watcher("--version")
    assert version.returncode == 0 and version.stdout.startswith("watcher 0."), version

    init = watcher("init")
    assert init.returncode == 0, init.stderr
    assert (home / "watcher.toml").is_file() and (home / "rules" / "turkey-syria-defence.toml").is_file()

    check = watcher("check")
    assert check.returncode == 0, check.stderr
    assert "OK — 9 feed(s), 3 rule(s), 0 channel(s)" in check.stdout

    again = watcher("init")
    assert again.returncode == 2 and "never overwrites" in again.stderr

    seeds = home / "seeds"
    shutil.copytree(ROOT / "seeds", seeds, ignore=shutil.ignore_patterns("*.toml", "*.md"))
    derive = watcher("rules", "derive", "seeds", "-o", "draft.toml")
    assert derive.returncode == 0, derive.stderr
    assert "against 295 background documents" in derive.stderr  # the shipped Wikinews corpus
    draft = (home / "draft.toml").read_text(encoding="utf-8")
    assert "[[entities]]" in draft and "[[rules]]" in draft

    module = subprocess.run(
        [str(fresh / "python"), "-m", "watcher", "--version"], capture_output=True, text=True, cwd=home
    )
    assert module.returncode == 0 and module.stdout == version.stdout


def test_the_container_entrypoint_initialises_an_empty_volume_once(fresh, tmp_path):
    """The Dockerfile's ENTRYPOINT, run by the shell as the container would, with the wheel's command."""
    import json
    import re

    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    copied = {
        name for line in re.findall(r"^COPY (?!--from)(.+)$", dockerfile, re.M) for name in line.split()[:-1]
    }
    assert set(SOURCES) <= copied, f"the image build misses {set(SOURCES) - copied}"
    entrypoint = json.loads(re.search(r"^ENTRYPOINT (\[.*\])$", dockerfile, re.M).group(1))
    data = tmp_path / "data"
    data.mkdir()
    env = {"PATH": f"{fresh}:/usr/bin:/bin", "HOME": str(data), "WATCHER_CONFIG": str(data / "watcher.toml")}

    def container(*command):
        return subprocess.run(
            [*entrypoint, *command], cwd=data, env=env, capture_output=True, text=True, timeout=300
        )

    first = container("check")
    assert first.returncode == 0, first.stderr
    assert (data / "watcher.toml").is_file() and (data / "rules" / "turkey-syria-defence.toml").is_file()
    assert f"database {data / 'watcher.db'}" in first.stdout
    (data / "watcher.toml").write_text((data / "watcher.toml").read_text() + "\n# edited\n")
    again = container("health")  # the HEALTHCHECK's command: no daemon has run here
    assert again.returncode == 1 and again.stdout.startswith("unhealthy: no database at")
    assert (data / "watcher.toml").read_text().endswith("# edited\n")  # never written twice


def test_the_compose_file_runs_the_daemon_and_a_password_protected_page_on_one_volume():
    import yaml

    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text(encoding="utf-8"))
    daemon, page = compose["services"]["watcher"], compose["services"]["serve"]
    assert daemon["volumes"] == page["volumes"] == ["watcher-data:/data"]
    assert page["depends_on"]["watcher"]["condition"] == "service_healthy"
    command = page["command"]
    assert command[:1] == ["serve"] and command[command.index("--password-env") + 1] == "WATCHER_PASSWORD"
    assert page["environment"]["WATCHER_PASSWORD"].startswith("${WATCHER_PASSWORD:?")
    assert all(p.startswith("127.0.0.1:") for p in page["ports"])
    assert "/healthz" in " ".join(page["healthcheck"]["test"])
