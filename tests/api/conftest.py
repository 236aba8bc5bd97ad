"""Fixtures of the API tests (defined in api_world.py, which the tests import helpers from)."""

from api_world import api, world

__all__ = ["api", "world"]
