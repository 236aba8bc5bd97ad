"""Fixtures of the reliability suite: the API test world of tests/api (api_world.py), shared."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))

from api_world import api, log_lines, world  # noqa: E402

__all__ = ["api", "log_lines", "world"]
