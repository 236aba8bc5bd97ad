"""Where the integration tests find the machine's PostgreSQL and Redis, and whether they answer."""

from __future__ import annotations

import os
import socket

POSTGRES_URL = os.environ.get(
    "LEADSCORE_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)
REDIS_ADDRESS = os.environ.get("LEADSCORE_TEST_REDIS", "127.0.0.1:6379")


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False
