"""Engagement signals: the event log, point-in-time transforms, the timeline parser and Feast."""

from typing import Any

import typeguard


def _unchecked(target: Any = None, **_options: Any) -> Any:
    """typeguard's @typechecked as it is under `python -O`: the target, unchanged."""
    return target if target is not None else _unchecked


# Feast decorates its classes with typeguard's @typechecked, which re-parses and recompiles their
# source at every import: 6.5 s of each command's start here. typeguard documents the decorator
# as a no-op under `python -O` (checks meant for development); this makes it one for Feast,
# which reads the name when first imported (below this package).
typeguard.typechecked = _unchecked
