"""The web tests' world: a copy of the review world (tests/review_world.py), one per module."""

from __future__ import annotations

import pytest
import review_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A copy of the shared world this module may write to (feedback, settings)."""
    return review_world.shared(tmp_path_factory).copy(tmp_path_factory.mktemp("web-world"))
