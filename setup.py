"""Build hook: the wheel carries the default rule pack and the example config.

Their one home is the top of the source tree (``rules/``, ``config.example.toml``),
where people read and edit them; building copies them into the package
``watcher.defaults`` (see its docstring). Everything else is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithDefaults(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):  # a checkout reads them in place
            return
        target = Path(self.build_lib) / "watcher" / "defaults"
        shutil.copy2(ROOT / "config.example.toml", target / "config.example.toml")
        (target / "rules").mkdir(parents=True, exist_ok=True)
        for path in sorted((ROOT / "rules").iterdir()):
            if path.is_file() and path.suffix in (".toml", ".md"):
                shutil.copy2(path, target / "rules" / path.name)


setup(cmdclass={"build_py": BuildWithDefaults})
