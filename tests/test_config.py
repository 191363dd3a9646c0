"""Configuration: every problem reported at once, with its key and a fix."""

import stat
import subprocess
from pathlib import Path

import pytest
from support import watcher_process

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
    path = write(
        tmp_path,
        """
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
""",
    )
    with pytest.raises(cfg.ConfigError) as err:
        cfg.load(path, environ={})
    problems = err.value.problems
    text = str(err.value)
    assert str(path) in text
    keys = [p.split(":")[0] for p in problems]
    assert "watcher.databse" in keys  # typo refused, not silently defaulted
    assert "watcher.poll_interval" in keys
    assert "network.timeout" in keys
    assert "extraction.memory_mb" in keys
    assert "network.allow_private[1]" in keys
    assert "feeds[0].url" in keys
    assert "feeds[0].intervall" in keys
    assert "channels[0]" in keys  # neither url nor url_env
    assert any("allowed keys are" in p for p in problems)


def test_channel_url_from_environment_is_kept_out_of_repr(tmp_path):
    path = write(
        tmp_path,
        """
[[channels]]
name = "team"
url_env = "TEAM_URL"
""",
    )
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


# -- issue 15, items 21-23: bad configuration ----------------------------------------------------

RULES = Path(__file__).resolve().parents[1] / "rules"


def check(config: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return watcher_process("--config", str(config), *(args or ("check",)), env=env)


SECRET_CONFIG = f"""[watcher]
database = "w.db"
rules = ["{RULES}"]
[serve]
password = "s3cret-serve"
[[channels]]
name = "desk"
url = "json://127.0.0.1:9/hook-s3cret"
"""


@pytest.mark.parametrize("mode", [0o644, 0o666, 0o640])
def test_item21_secrets_in_a_config_others_can_read_are_warned_about(tmp_path, mode):
    path = write(tmp_path, SECRET_CONFIG)
    path.chmod(mode)
    for command in (("check",), ("run", "--once")):
        result = check(path, *command)
        warnings = [line for line in result.stderr.splitlines() if "other users may read it" in line]
        assert len(warnings) == 1, (command, result.stderr)
        (line,) = warnings
        assert str(path) in line and f"mode {mode:o}" in line
        assert "serve.password" in line and "channels[0].url" in line
        assert f"chmod 600 {path}" in line and "url_env" in line
        assert "s3cret" not in result.stderr
    path.chmod(0o600)
    assert "other users" not in check(path).stderr


def test_item21_a_config_without_secrets_or_with_env_secrets_is_not_warned_about(tmp_path):
    path = write(tmp_path, f'[watcher]\nrules = ["{RULES}"]\n[[channels]]\nname = "d"\nurl_env = "HOOK"\n')
    path.chmod(0o644)
    result = check(path, env={"HOOK": "json://127.0.0.1:9/x"})
    assert result.returncode == 0 and "other users" not in result.stderr


def test_item21_the_database_is_created_private(tmp_path):
    from watcher.store.database import Store

    store = Store.open(tmp_path / "new.db")
    store.db["probe"].insert({"x": 1})
    store.close()
    assert stat.S_IMODE((tmp_path / "new.db").stat().st_mode) == 0o600
    for extra in ("new.db-wal", "new.db-shm"):
        if (tmp_path / extra).exists():
            assert stat.S_IMODE((tmp_path / extra).stat().st_mode) == 0o600, extra
    path = write(tmp_path, f'[watcher]\ndatabase = "run.db"\nrules = ["{RULES}"]\n')
    assert check(path, "run", "--once").returncode == 0
    assert stat.S_IMODE((tmp_path / "run.db").stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "section, line, key",
    [
        ("network", "timeout = inf", "network.timeout"),
        ("network", "timeout = nan", "network.timeout"),
        ("network", 'timeout = "100000d"', "network.timeout"),
        ("extraction", "timeout = 1e300", "extraction.timeout"),
        ("watcher", "poll_interval = 1e300", "watcher.poll_interval"),
        ("watcher", 'poll_interval = "99999999999999999999d"', "watcher.poll_interval"),
        ("watcher", "keep_days = 1e300", "watcher.keep_days"),
        ("alerts", "backoff = 1e308", "alerts.backoff"),
        ("alerts", "max_attempts = 9223372036854775807", "alerts.max_attempts"),
        ("extraction", "memory_mb = 9223372036854775807", "extraction.memory_mb"),
        ("network", "max_connections = 1000000", "network.max_connections"),
        ("dedup", "window_days = inf", "dedup.window_days"),
        ("network", "per_host = 0", "network.per_host"),
        ("network", "per_host = 100000", "network.per_host"),
        ("network", 'poll_deadline = "2d"', "network.poll_deadline"),
        ("network", "poll_deadline = inf", "network.poll_deadline"),
        ("alerts", 'max_age = "0s"', "alerts.max_age"),
        ("alerts", 'max_age = "soon"', "alerts.max_age"),
    ],
)
def test_item22_an_infinite_or_huge_setting_is_one_line_naming_the_key(tmp_path, section, line, key):
    path = write(
        tmp_path,
        f'[watcher]\nrules = ["{RULES}"]\n'
        + ("" if section == "watcher" else f"[{section}]\n")
        + line
        + "\n",
    )
    path.chmod(0o600)
    if section == "watcher":
        path.write_text(f'[watcher]\nrules = ["{RULES}"]\n{line}\n', encoding="utf-8")
    for command in (("check",), ("run", "--once")):
        result = check(path, *command)
        assert result.returncode == 2, (command, result.stderr)
        assert key in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_item22_a_huge_feed_interval_or_digest_period_is_refused(tmp_path):
    path = write(
        tmp_path,
        f'[watcher]\nrules = ["{RULES}"]\n[[feeds]]\nurl = "https://example.org/f"\n'
        'interval = "99999999999d"\n[[channels]]\nname = "d"\nurl_env = "HOOK"\nmode = "digest"\n'
        'digest_every = "9999999999w"\n',
    )
    result = check(path, env={"HOOK": "json://127.0.0.1:9/x"})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "feeds[0].interval" in result.stderr and "channels[0].digest_every" in result.stderr


def test_item22_deeply_nested_toml_is_one_line(tmp_path):
    path = write(tmp_path, "x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    result = check(path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and len(result.stderr) < 400
    assert str(path) in result.stderr and "nested too deeply" in result.stderr


@pytest.mark.parametrize(
    "levels, words",
    [(40, "nested more than 32 levels"), (200, "nested too deeply"), (100_000, "nested too deeply")],
)
def test_item22_deeply_nested_rule_groups_are_one_line(tmp_path, levels, words):
    rules = tmp_path / "rules"
    rules.mkdir()
    condition = '{ term = "army" }'
    if levels < 1000:
        for _ in range(levels):
            condition = "{ all = [" + condition + "] }"
    else:
        condition = "[" * levels + "]" * levels
    (rules / "deep.toml").write_text(
        f'[[rules]]\nid = "deep"\ntitle = "t"\nseverity = "low"\ncondition = {condition}\n', encoding="utf-8"
    )
    path = write(tmp_path, f'[watcher]\nrules = ["{rules}"]\n')
    for command in (("check",), ("run", "--once")):
        result = check(path, *command)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-500:]
        assert len(result.stderr.strip().splitlines()) == 1 and len(result.stderr) < 500, result.stderr[:500]
        assert "deep.toml" in result.stderr and words in result.stderr


@pytest.mark.parametrize(
    "url, token",
    [
        ("tgram://bottoken123456789SECRET/12345", "bottoken123456789SECRET"),
        ("mailto://user:SECRETpassword@", "SECRETpassword"),
        ("discord://123456/SECRETwebhooktoken?avatar=maybe&format=nonsense", "SECRETwebhooktoken"),
        ("slack://TXXXXXXXX/BXXXXXXXX/SECRETslacktoken/#nochannel?footer=x", "SECRETslacktoken"),
        ("gotify://gotify.example/SECRETgotifytoken?priority=nonsense", "SECRETgotifytoken"),
    ],
)
def test_item23_check_shows_no_character_of_an_unusable_token(tmp_path, url, token):
    path = write(tmp_path, f'[watcher]\nrules = ["{RULES}"]\n[[channels]]\nname = "c"\nurl_env = "HOOK"\n')
    result = check(path, env={"HOOK": url})
    shown = result.stdout + result.stderr
    assert token not in shown
    assert f"{token[0]}...{token[-1]}" not in shown and f"...{token[-4:]}" not in shown
    assert not [token[i : i + 5] for i in range(len(token) - 4) if token[i : i + 5] in shown], shown


def test_ops_channels_quiet_hours_and_the_hourly_cap(tmp_path):
    config = cfg.load(
        write(
            tmp_path,
            """
[alerts]
give_up_after = "3d"
ops_after_errors = 5
ops_after = "2h"

[[channels]]
name = "ops"
url_env = "OPS_URL"
ops = true
quiet_hours = "23:30-06:00"
timezone = "Europe/Istanbul"
max_per_hour = 6

[[channels]]
name = "ops-and-defence"
url_env = "OPS_URL"
ops = true
rules = ["turkey-syria-defence"]
""",
        ),
        environ={"OPS_URL": "json://127.0.0.1/x"},
    )
    assert (config.alerts.give_up_after, config.alerts.ops_after_errors, config.alerts.ops_after) == (
        3 * 86400,
        5,
        7200,
    )
    ops, both = config.channels
    assert ops.ops and ops.rules == ()  # notices only: no article alerts unless its rules say so
    assert (
        ops.quiet_hours == ("23:30", "06:00") and ops.timezone == "Europe/Istanbul" and ops.max_per_hour == 6
    )
    assert both.ops and both.rules == ("turkey-syria-defence",)


def test_mistakes_in_calm_settings_name_the_key(tmp_path):
    path = write(
        tmp_path,
        """
[[channels]]
name = "desk"
url = "json://127.0.0.1/x"
quiet_hours = "22-7"
timezone = "Istanbul"
max_per_hour = 0
""",
    )
    with pytest.raises(cfg.ConfigError) as err:
        cfg.load(path, environ={})
    text = str(err.value)
    assert text.startswith(f"{path}: 3 problems")
    assert 'channels[0].quiet_hours: must be two different times of day in quotes as "start-end"' in text
    # a city alone: the IANA names it may mean
    assert (
        'channels[0].timezone: \'Istanbul\' is not a time zone this system knows; use an IANA name such as "Asia/Istanbul" or "Europe/Istanbul"'
        in text
    )
    assert "channels[0].max_per_hour: must be a whole number above zero, got 0" in text


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        ('quiet_hours = ["22:00", "07:00"]', "channels[0].quiet_hours: must be two different times of day"),
        ('quiet_hours = "22:00-22:00"', "channels[0].quiet_hours: must be two different times of day"),
        ('quiet_hours = "24:00-07:00"', "channels[0].quiet_hours: must be two different times of day"),
        # names the zone database has, but as folders or data files, not zones
        (
            'quiet_hours = "22:00-07:00"\ntimezone = "America"',
            "channels[0].timezone: 'America' is not a time zone",
        ),
        (
            'quiet_hours = "22:00-07:00"\ntimezone = "zone.tab"',
            "channels[0].timezone: 'zone.tab' is not a time zone",
        ),
        (
            'quiet_hours = "22:00-07:00"\ntimezone = "../../etc/passwd"',
            "channels[0].timezone: '../../etc/passwd' is not",
        ),
        ('quiet_hours = "22:00-07:00"\ntimezone = "' + "x" * 300 + '"', "channels[0].timezone: 'xxxxxxxxx"),
        ('quiet_hours = "22:00-07:00"\ntimezone = 3', "channels[0].timezone: 3 is not a time zone"),
        ('timezone = "Europe/Istanbul"', "channels[0].timezone: is only used by quiet_hours"),
        ("max_per_hour = 2.5", "channels[0].max_per_hour: must be an integer, got 2.5"),
        ("max_per_hour = 100000", "channels[0].max_per_hour: must be at most 3,600"),
        ('ops = "yes"', "channels[0].ops: must be a true/false, got 'yes'"),
    ],
)
def test_each_calm_and_ops_mistake_is_one_line_naming_the_file_and_key(tmp_path, lines, problem):
    path = write(tmp_path, f'[[channels]]\nname = "desk"\nurl = "json://127.0.0.1/x"\n{lines}\n')
    with pytest.raises(cfg.ConfigError) as err:
        cfg.load(path, environ={})
    text = str(err.value)
    assert "\n" not in text and len(text) < 400, text
    assert text.startswith(f"{path}: {problem}"), text


def test_quiet_hours_may_cross_midnight_and_drop_a_leading_zero(tmp_path):
    path = write(
        tmp_path,
        '[[channels]]\nname = "desk"\nurl = "json://127.0.0.1/x"\nquiet_hours = "9:30 - 7:05"\n'
        'timezone = "America/New_York"\n',
    )
    [desk] = cfg.load(path, environ={}).channels
    assert (desk.quiet_hours, desk.timezone) == (("09:30", "07:05"), "America/New_York")


def test_a_json_channel_cannot_fold_alerts(tmp_path):
    path = write(
        tmp_path,
        """
[[channels]]
name = "robot"
url = "https://hooks.example.org/x"
format = "json"
quiet_hours = "22:00-07:00"
max_per_hour = 5
""",
    )
    with pytest.raises(cfg.ConfigError) as err:
        cfg.load(path, environ={})
    text = str(err.value)
    assert 'channels[0].quiet_hours: format = "json" sends one alert per POST' in text
    assert 'channels[0].max_per_hour: format = "json" sends one alert per POST' in text


# -- issue 11: the extraction pool; issue 14: distributed mode ---------------------------------------


def test_extraction_workers_and_idle_exit(tmp_path):
    config = cfg.load(write(tmp_path, '[extraction]\nworkers = 3\nidle_exit = "90s"\n'), environ={})
    assert (config.extraction.workers, config.extraction.idle_exit) == (3, 90)
    default = cfg.load(write(tmp_path, ""), environ={})
    assert default.extraction.workers is None and default.extraction.idle_exit == 300  # one per core
    with pytest.raises(cfg.ConfigError) as caught:
        cfg.load(write(tmp_path, '[extraction]\nworkers = 0\nidle_exit = "0s"\n'), environ={})
    keys = " ".join(caught.value.problems)
    assert "extraction.workers" in keys and "extraction.idle_exit" in keys


def test_workers_section(tmp_path):
    assert not cfg.load(write(tmp_path, ""), environ={}).workers.distributed
    config = cfg.load(
        write(tmp_path, '[workers]\nbroker_env = "BROKER"\nvisibility_timeout = "3s"\npolls = 10\n'),
        environ={"BROKER": "redis://:secret@10.0.0.5:6379/0"},
    )
    w = config.workers
    assert w.distributed and w.broker == "redis://:secret@10.0.0.5:6379/0"
    assert (w.visibility_timeout, w.polls, w.namespace) == (3, 10, "watcher")
    assert "secret" not in repr(config)  # the URL may hold a password
    with pytest.raises(cfg.ConfigError) as caught:
        cfg.load(
            write(tmp_path, '[workers]\nbroker = "http://:pw@example.com"\nnamespace = "a b"\nthreads = 0\n'),
            environ={},
        )
    problems = " ".join(caught.value.problems)
    assert "workers.broker" in problems and "workers.namespace" in problems and "workers.threads" in problems
    assert "pw" not in problems  # never shown


@pytest.mark.parametrize(
    ("section", "key", "good"),
    [("network", "proxy", "http://proxy.example:3128"), ("workers", "broker", "redis://127.0.0.1:6379/0")],
)
def test_a_url_that_may_hold_a_password_reads_alike_in_every_section(tmp_path, section, key, good):
    def problems(text: str, environ: dict[str, str]) -> list[str]:
        with pytest.raises(cfg.ConfigError) as caught:
            cfg.load(write(tmp_path, f"[{section}]\n{text}\n"), environ=environ)
        return caught.value.problems

    assert problems(f'{key} = "{good}"\n{key}_env = "X"', {"X": good}) == [
        f"{section}.{key}: give {key} or {key}_env, not both"
    ]
    assert problems(f'{key}_env = "UNSET"', {}) == [
        f"{section}.{key}_env: environment variable UNSET is not set or empty"
    ]
    assert problems(f"{key} = 3128", {}) == [
        f'{section}.{key}: must be a URL in quotes, e.g. {key} = "{good}"'
    ]
    (bad,) = problems(f'{key}_env = "X"', {"X": "gopher://u:hunter2@x"})
    assert bad.startswith(f"{section}.{key}_env: ") and "hunter2" not in bad
    loaded = cfg.load(write(tmp_path, f'[{section}]\n{key}_env = "X"\n'), environ={"X": good})
    assert getattr(getattr(loaded, section), key) == good
