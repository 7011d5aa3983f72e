"""One-to-one matching of several predicted boxes to several gold boxes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vlmr1.plugins.iou.matching import Match, match_pairs, score_matches

# greedy grabs A-X (0.6) and is left with B-Y (0.0); Hungarian finds A-Y + B-X = 1.0
CROSS = np.array([[0.6, 0.5], [0.5, 0.0]])


def test_hungarian_beats_greedy_on_a_crossing():
    h, gr = match_pairs(CROSS, method="hungarian"), match_pairs(CROSS, method="greedy")
    assert sorted(h.pairs) == [(0, 1, 0.5), (1, 0, 0.5)]
    assert score_matches(h) == pytest.approx(0.5)
    assert gr.pairs[0] == (0, 0, 0.6) and score_matches(gr) == pytest.approx(0.3)


def test_misses_and_false_alarms_cost():
    one = np.array([[1.0]])
    assert score_matches(match_pairs(one)) == 1.0
    miss = np.array([[1.0, 0.0]])  # one prediction, two gold
    assert score_matches(match_pairs(miss)) == 0.5
    false_alarm = np.array([[1.0], [0.0], [0.0]])  # three predictions, one gold
    assert score_matches(match_pairs(false_alarm)) == pytest.approx(1 / 3)


def test_giou_floor_for_unmatched():
    values = np.array([[0.5, -0.2]])
    m = match_pairs(values)
    assert score_matches(m, floor=-1.0) == pytest.approx((0.5 - 1.0) / 2)


def test_labels_forbid_pairs():
    values = np.array([[0.9, 0.1]])
    allowed = np.array([[False, True]])
    m = match_pairs(values, allowed)
    assert m.pairs == ((0, 1, 0.1),)
    assert match_pairs(values, np.zeros_like(allowed)).pairs == ()


def test_threshold_counts_hits_and_maximises_them():
    # A hits X or Y; B hits only X: the best assignment hits twice.
    values = np.array([[0.9, 0.6], [0.55, 0.1]])
    m = match_pairs(values, threshold=0.5)
    assert sorted((i, j) for i, j, _ in m.pairs) == [(0, 1), (1, 0)]
    assert score_matches(m, threshold=0.5) == 1.0
    greedy = match_pairs(values, method="greedy", threshold=0.5)
    assert score_matches(greedy, threshold=0.5) == 0.5


def test_empty_sides():
    assert score_matches(Match((), 0, 0)) == 1.0
    assert score_matches(match_pairs(np.zeros((0, 3)))) == 0.0
    assert score_matches(match_pairs(np.zeros((2, 0))), floor=-1.0) == -1.0


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.data())
def test_hungarian_is_optimal_and_one_to_one(n, m, data):
    values = np.array(data.draw(st.lists(st.lists(st.floats(0, 1), min_size=m, max_size=m), min_size=n, max_size=n)))
    got = match_pairs(values)
    rows = [i for i, _, _ in got.pairs]
    cols = [j for _, j, _ in got.pairs]
    assert len(set(rows)) == len(rows) and len(set(cols)) == len(cols)
    best = 0.0
    for perm in itertools.permutations(range(max(n, m)), min(n, m)):
        pairs = zip(range(n), perm) if n <= m else zip(perm, range(m))
        best = max(best, sum(values[i, j] for i, j in pairs if i < n and j < m))
    assert sum(v for _, _, v in got.pairs) == pytest.approx(best)
    greedy = match_pairs(values, method="greedy")
    assert score_matches(greedy) <= score_matches(got) + 1e-12
    assert 0.0 <= score_matches(got) <= 1.0
