"""Serving's own SQL tables (users, officers, audit, webhooks) on the event log's database."""

from __future__ import annotations

from sqlalchemy import Engine, MetaData

metadata = MetaData()
"""Users, officers, audit and webhook tables; kept apart from the event log's MetaData so the
feature layer never learns about serving, while both live in one database (one URL to back up)."""


def create_serving_tables(engine: Engine) -> None:
    """Create serving's tables when they do not exist (idempotent)."""
    # Importing the modules registers their tables on `metadata`.
    from serving import audit, auth  # noqa: F401
    from serving.webhooks import store  # noqa: F401

    metadata.create_all(engine)
    auth.add_missing_user_columns(engine)
