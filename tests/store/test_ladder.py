"""The ladder's rules: each broken rule is one sentence naming the tiers concerned."""

from __future__ import annotations

import pytest

from sysmond.config import DEFAULT_TIERS, TierConfig
from sysmond.errors import StoreError
from sysmond.store import Store, ladder_problems
from sysmond.store.ladder import MAX_ROWS

from .storekit import SMALL


def T(name, step, retention):
    return TierConfig(name, step, retention)


def test_the_default_and_the_small_ladders_are_valid():
    assert ladder_problems(DEFAULT_TIERS) == []
    assert ladder_problems(SMALL) == []


def test_a_ladder_needs_at_least_one_tier():
    assert ladder_problems([]) == ["there must be at least one tier"]


def test_a_single_tier_is_a_valid_ladder():
    assert ladder_problems([T("raw", 10, 3600)]) == []


@pytest.mark.parametrize(("tiers", "expected"), [
    ([T("raw", 1, 60), T("raw", 60, 600)], "tier name 'raw' is used more than once"),
    ([T("ra w", 1, 60)], "tier 'ra w': name must be letters, digits or '_'"),
    ([T("", 1, 60)], "tier '': name must be letters, digits or '_'"),
    ([T("raw", 0, 60)], "tier 'raw': step must be positive, got 0"),
    ([T("raw", 7, 60)], "tier 'raw': retention 60s must be a whole number of steps of 7s"),
    ([T("raw", 60, 30)], "tier 'raw': retention 30s must be a whole number of steps of 60s"),
    ([T("raw", 1, MAX_ROWS + 1)], f"tier 'raw': {MAX_ROWS + 1} rows, more than {MAX_ROWS}"),
])
def test_a_broken_rule_of_one_tier_names_it(tiers, expected):
    assert ladder_problems(tiers) == [expected]


@pytest.mark.parametrize(("coarse", "expected"), [
    (T("c", 60, 86400), "tiers 'f' and 'c': step must increase (60s then 60s)"),
    (T("c", 30, 86400), "tiers 'f' and 'c': step must increase (60s then 30s)"),
    (T("c", 90, 86400), "tiers 'f' and 'c': step 60s does not divide 90s"),
    (T("c", 120, 3600), "tiers 'f' and 'c': retention must grow (3600s then 3600s)"),
    (T("c", 7200, 86400), "tiers 'f' and 'c': 'f' keeps 3600s, less than one 7200s row "
                          "of 'c'"),
])
def test_a_broken_rule_between_two_tiers_names_both(coarse, expected):
    assert ladder_problems([T("f", 60, 3600), coarse]) == [expected]


def test_every_broken_rule_is_reported_not_only_the_first():
    problems = ladder_problems([T("a", 10, 100), T("b", 15, 50), T("c", 15, 60)])
    assert "tiers 'a' and 'b': step 10s does not divide 15s" in problems
    assert "tiers 'a' and 'b': retention must grow (100s then 50s)" in problems
    assert "tiers 'b' and 'c': step must increase (15s then 15s)" in problems
    assert "tier 'b': retention 50s must be a whole number of steps of 15s" in problems
    assert len(problems) == 4


def test_a_fine_tier_keeping_exactly_one_coarse_row_is_enough():
    assert ladder_problems([T("raw", 1, 60), T("1m", 60, 600)]) == []


def test_opening_a_store_with_an_invalid_ladder_raises_with_the_problems(tmp_path):
    with pytest.raises(StoreError, match="step 60s does not divide 90s"):
        Store.open(tmp_path, [T("f", 60, 3600), T("c", 90, 86400)])
    assert not (tmp_path / "catalog.json").exists()


def test_reopening_a_store_with_another_ladder_names_both_ladders(tmp_path):
    Store.open(tmp_path, SMALL).close()
    other = (*SMALL[:2], T("1m", 60, 7200))
    with pytest.raises(StoreError) as e:
        Store.open(tmp_path, other)
    assert "1m=60s/3600s" in str(e.value) and "1m=60s/7200s" in str(e.value)
    with Store.open(tmp_path) as store:  # no ladder given: the store's own
        assert store.tiers == SMALL
