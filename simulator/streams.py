"""Counter-based random numbers: a draw depends on (seed, stream, lead, day, slot), not on order.

This is what makes policy comparisons fair (common random numbers): a lead's latent path, its
application threshold and the outcome of a touch on a given day and channel are the same numbers
whichever policy runs, because they are hashes of their coordinates, not the next numbers out of
a shared generator whose position depends on what the policy did before.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntLike = npt.NDArray[np.integer] | int

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_LEAD_MULT = np.uint64(0xD6E8FEB86659FD93)
_DAY_MULT = np.uint64(0xA0761D6478BD642F)
_SLOT_MULT = np.uint64(0xE7037ED1A0B428DB)


class Stream(IntEnum):
    """One independent family of draws per purpose."""

    READINESS = 1
    APPLY_THRESHOLD = 2
    APPLY_TIME = 3
    VISITS = 4
    VISIT_DETAIL = 5
    QUESTION = 6
    STATEMENT = 7
    TOUCH_TIME = 8
    CALL = 9
    TEXT = 10
    EMAIL = 11
    FUNDING = 12
    PROTECTED = 13
    LANE = 14


def _splitmix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    x = x ^ (x >> np.uint64(30))
    x = x * _MIX_1
    x = x ^ (x >> np.uint64(27))
    x = x * _MIX_2
    return x ^ (x >> np.uint64(31))


def _as_u64(values: IntLike) -> npt.NDArray[np.uint64]:
    return np.asarray(values, dtype=np.int64).astype(np.uint64)


def uniform(
    seed: int, stream: Stream, lead: IntLike, day: IntLike = 0, slot: IntLike = 0
) -> FloatArray:
    """Uniform draws in (0, 1), one per broadcast (lead, day, slot) coordinate."""
    base = np.uint64(((seed & _MASK) * _GOLDEN + int(stream) * 0x632BE59BD9B4E019) & _MASK)
    with np.errstate(over="ignore"):
        key = _splitmix(np.asarray(base ^ (_as_u64(lead) * _LEAD_MULT)))
        key = _splitmix(key ^ (_as_u64(day) * _DAY_MULT))
        key = _splitmix(key ^ (_as_u64(slot) * _SLOT_MULT))
    return ((key >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / (1 << 53))


def normal(
    seed: int, stream: Stream, lead: IntLike, day: IntLike = 0, slot: IntLike = 0
) -> FloatArray:
    """Standard normal draws (Box-Muller on two uniforms at slots 2k and 2k+1)."""
    slot_array = np.asarray(slot, dtype=np.int64) * 2
    u1 = uniform(seed, stream, lead, day, slot_array)
    u2 = uniform(seed, stream, lead, day, slot_array + 1)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
