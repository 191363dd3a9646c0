"""Configuration: every problem reported at once, with its key and a fix."""

from pathlib import Path

import pytest

from watcher import config as cfg

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "watcher.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_is_valid_and_lists_real_feeds():
    config = cfg.load(EXAMPLE, environ={})
    assert len(config.feeds) >= 7
    assert all(f.url.startswith("https://") for f in config.feeds)
    assert config.database == EXAMPLE.parent / "watcher.db"
    assert config.rules == (EXAMPLE.parent / "rules",)
    assert config.poll_interval == 900


def test_defaults_for_an_empty_file(tmp_path):
    config = cfg.load(write(tmp_path, ""), environ={})
    assert config.database == tmp_path / "watcher.db"
    assert config.network.timeout == 30
    assert config.network.allow_private == ()
    assert config.feeds == () and config.channels == ()


def test_every_problem_is_reported_together_with_its_key(tmp_path):
    path = write(tmp_path, """
[watcher]
databse = "x.db"
poll_interval = "soon"

[extraction]
memory_mb = 64

[network]
timeout = -3
allow_private = ["10.0.0.0/8", "not-a-net"]

[[feeds]]
url = "ftp://example.org/feed"
name = "A"
intervall = "5m"

[[channels]]
name = "ops"
""")
    with pytest.raises(cfg.ConfigError) as err:
        cfg.load(path, environ={})
    problems = err.value.problems
    text = str(err.value)
    assert str(path) in text
    keys = [p.split(":")[0] for p in problems]
    assert "watcher.databse" in keys            # typo refused, not silently defaulted
    assert "watcher.poll_interval" in keys
    assert "network.timeout" in keys
    assert "extraction.memory_mb" in keys
    assert "network.allow_private[1]" in keys
    assert "feeds[0].url" in keys
    assert "feeds[0].intervall" in keys
    assert "channels[0]" in keys                # neither url nor url_env
    assert any("allowed keys are" in p for p in problems)


def test_channel_url_from_environment_is_kept_out_of_repr(tmp_path):
    path = write(tmp_path, """
[[channels]]
name = "team"
url_env = "TEAM_URL"
""")
    config = cfg.load(path, environ={"TEAM_URL": "json://127.0.0.1/SECRET-TOKEN"})
    assert config.channels[0].url == "json://127.0.0.1/SECRET-TOKEN"
    assert "SECRET-TOKEN" not in repr(config)
    with pytest.raises(cfg.ConfigError, match="TEAM_URL is not set"):
        cfg.load(path, environ={})


def test_invalid_toml_names_the_file(tmp_path):
    path = write(tmp_path, "[watcher\n")
    with pytest.raises(cfg.ConfigError, match="not valid TOML"):
        cfg.load(path, environ={})


def test_missing_file_says_how_to_fix(tmp_path):
    with pytest.raises(cfg.ConfigError, match="config.example.toml"):
        cfg.load(tmp_path / "nope.toml", environ={})


def test_config_path_resolution(tmp_path):
    assert cfg.resolve_path("a.toml", environ={"WATCHER_CONFIG": "b.toml"}, cwd=tmp_path) == Path("a.toml")
    assert cfg.resolve_path(None, environ={"WATCHER_CONFIG": "b.toml"}, cwd=tmp_path) == Path("b.toml")
    assert cfg.resolve_path(None, environ={}, cwd=tmp_path) == tmp_path / "watcher.toml"


@pytest.mark.parametrize("text,seconds", [("90s", 90), ("15m", 900), ("1h30m", 5400), ("2d", 172800)])
def test_durations(tmp_path, text, seconds):
    config = cfg.load(write(tmp_path, f'[watcher]\npoll_interval = "{text}"\n'), environ={})
    assert config.poll_interval == seconds
