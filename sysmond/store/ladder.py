"""The tier ladder's rules: what makes a set of tiers a valid round-robin ladder."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from sysmond.config import TierConfig

MAX_ROWS = 10_000_000


def ladder_problems(tiers: Sequence[TierConfig]) -> list[str]:
    """Given a ladder (finest first), return every broken rule as a sentence naming the
    tiers concerned; an empty list means the ladder is valid.

    The rules are whisper's: steps increase, each step divides the next (so a coarse row
    is made of whole finer rows), retention grows, and each tier keeps at least one row of
    the next (or the next could never be fed).
    """
    problems: list[str] = []
    if not tiers:
        return ["there must be at least one tier"]
    names = [t.name for t in tiers]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"tier name {name!r} is used more than once")
    for t in tiers:
        if not t.name or not t.name.replace("_", "").isalnum():
            problems.append(f"tier {t.name!r}: name must be letters, digits or '_'")
        if t.step <= 0:
            problems.append(f"tier {t.name!r}: step must be positive, got {t.step}")
            continue
        if t.retention < t.step or t.retention % t.step:
            problems.append(
                f"tier {t.name!r}: retention {t.retention}s must be a whole number of "
                f"steps of {t.step}s")
        elif t.retention // t.step > MAX_ROWS:
            problems.append(f"tier {t.name!r}: {t.retention // t.step} rows, more than "
                            f"{MAX_ROWS}")
    for fine, coarse in itertools.pairwise(tiers):
        pair = f"tiers {fine.name!r} and {coarse.name!r}"
        if fine.step <= 0 or coarse.step <= 0:
            continue
        if coarse.step <= fine.step:
            problems.append(f"{pair}: step must increase ({fine.step}s then {coarse.step}s)")
        elif coarse.step % fine.step:
            problems.append(f"{pair}: step {fine.step}s does not divide {coarse.step}s")
        if coarse.retention <= fine.retention:
            problems.append(f"{pair}: retention must grow ({fine.retention}s then "
                            f"{coarse.retention}s)")
        if fine.retention < coarse.step:
            problems.append(f"{pair}: {fine.name!r} keeps {fine.retention}s, less than one "
                            f"{coarse.step}s row of {coarse.name!r}")
    return problems
