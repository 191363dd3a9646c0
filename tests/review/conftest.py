"""The review tests share one world: a database filled by real runs over
the loopback newsroom (tests/review_world.py), built once per session."""

from __future__ import annotations

import pytest
import review_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The shared world, read-only: copy it (``world.copy(path)``) to write."""
    return review_world.shared(tmp_path_factory)
