"""``python -m watcher``: the same as the ``watcher`` command."""

from watcher.cli.main import main

if __name__ == "__main__":
    main(prog_name="watcher")
