"""Real PostgreSQL and Redis on 127.0.0.1; tests skip with a clear reason when unreachable."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from services import POSTGRES_URL, REDIS_ADDRESS, reachable  # noqa: E402


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the test database, dropped afterwards."""
    if not reachable("127.0.0.1", 5432):
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432 (start it to run this test)")
    schema = f"it_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def redis_address() -> str:
    host, port = REDIS_ADDRESS.split(":")
    if not reachable(host, int(port)):
        pytest.skip(f"Redis is not reachable on {REDIS_ADDRESS} (start it to run this test)")
    return REDIS_ADDRESS
