"""Fixtures of the API tests (defined in api_world.py, which the tests import helpers from)."""

from api_world import api, log_lines, world

__all__ = ["api", "log_lines", "world"]
