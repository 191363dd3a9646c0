"""`watcher check` and user mistakes on the command line: a message naming the
file and key, exit code 2, never a traceback."""

from support import ROOT
from support import watcher_process as watcher


def test_check_accepts_the_example_config_and_default_rules():
    result = watcher("--config", str(ROOT / "config.example.toml"), "check")
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout and "feed(s)" in result.stdout


def test_check_reports_config_problems_with_file_and_key(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('[watcher]\npoll_intervall = "5m"\n[[feeds]]\nurl = "file:///etc/passwd"\n')
    result = watcher("--config", str(config), "check")
    assert result.returncode == 2
    assert str(config) in result.stderr
    assert "watcher.poll_intervall: unknown key" in result.stderr
    assert "feeds[0].url" in result.stderr
    assert "Traceback" not in result.stderr


def config_with_rules(tmp_path, name: str, rules_toml: str):
    """A watcher.toml whose only rule file is ``name`` holding ``rules_toml``."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / name).write_text(rules_toml)
    config = tmp_path / "watcher.toml"
    config.write_text(f'[watcher]\nrules = ["{rules}"]\n')
    return config


def test_check_reports_rule_problems_and_run_refuses_to_start(tmp_path):
    config = config_with_rules(
        tmp_path,
        "broken.toml",
        '[[rules]]\nid = "r1"\ntitle = "Broken"\nseverity = "high"\n'
        'condition = { any = [{ entity = "nobody" }] }\n',
    )
    result = watcher("--config", str(config), "check")
    assert result.returncode == 2
    assert "broken.toml" in result.stderr and "r1" in result.stderr and "nobody" in result.stderr
    run = watcher("--config", str(config), "run", "--once")
    assert run.returncode == 2 and "Traceback" not in run.stderr


def test_config_is_found_through_the_environment_and_the_current_folder(tmp_path):
    (tmp_path / "watcher.toml").write_text(f'[watcher]\nrules = ["{ROOT / "rules"}"]\n')
    assert watcher("check", cwd=tmp_path).returncode == 0
    other = tmp_path / "elsewhere.toml"
    other.write_text("[watcher\n")
    result = watcher("check", cwd=tmp_path, env={"WATCHER_CONFIG": str(other)})
    assert result.returncode == 2 and "elsewhere.toml" in result.stderr


def test_a_missing_config_says_how_to_fix_it(tmp_path):
    result = watcher("feeds", cwd=tmp_path)
    assert result.returncode == 2
    assert "config.example.toml" in result.stderr and "Traceback" not in result.stderr


def test_check_refuses_a_rule_that_names_an_unknown_channel(tmp_path):
    config = config_with_rules(
        tmp_path,
        "r.toml",
        '[[rules]]\nid = "r1"\ntitle = "Ankara"\nseverity = "high"\n'
        'channels = ["pager"]\ncondition = { any = [{ term = "Ankara" }] }\n',
    )
    result = watcher("--config", str(config), "check")
    assert result.returncode == 2
    assert "r.toml: rule 'r1' names channel 'pager'" in result.stderr
