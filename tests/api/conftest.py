"""Fixtures of the API tests (defined in api_world.py and webhook_receiver.py, which the tests
import helpers from)."""

from api_world import api, log_lines, world
from webhook_receiver import receiver

__all__ = ["api", "log_lines", "receiver", "world"]
