"""Serving's own SQL tables (users, officers, audit) on the event log's database."""

from __future__ import annotations

from sqlalchemy import Engine, MetaData

metadata = MetaData()
"""Users, officers and audit tables; kept apart from the event log's MetaData so the feature
layer never learns about serving, while both live in one database (one URL to back up)."""


def create_serving_tables(engine: Engine) -> None:
    """Create the users, officers and audit tables when they do not exist (idempotent)."""
    # Importing the modules registers their tables on `metadata`.
    from serving import audit, auth  # noqa: F401

    metadata.create_all(engine)
    auth.add_missing_user_columns(engine)
