"""Several predicted boxes against several gold boxes: one-to-one matching and the score.

Each gold box can be claimed by at most one predicted box and vice versa. Hungarian
matching (scipy's ``linear_sum_assignment``) maximises the summed metric; greedy
matching takes the best remaining pair first (what VLM-R1's detection reward does).

The score is ``(sum over matched pairs of value + floor * unmatched) / max(n_pred,
n_gold)`` where ``unmatched = max(n_pred, n_gold) - matched``: every miss and every
false alarm beyond the matched pairs costs a slot valued at the metric's floor (0 for
IoU, -1 for GIoU). With a ``threshold`` a pair's value is 1 when its metric reaches
the threshold and 0 otherwise (so the score is hits / max(n_pred, n_gold)), and matching maximises the number of hits
(ties broken by the metric).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Match", "match_pairs", "score_matches"]


@dataclass(frozen=True)
class Match:
    """The matched pairs (pred index, gold index, metric) and the counts behind the score."""

    pairs: tuple[tuple[int, int, float], ...]
    n_pred: int
    n_gold: int


def match_pairs(values: np.ndarray, allowed: np.ndarray | None = None, method: str = "hungarian",
                threshold: float | None = None) -> Match:
    """Match rows (predictions) to columns (gold) of the metric matrix ``values``.

    ``allowed`` (same shape, bool) forbids pairs, e.g. with different labels. With a
    ``threshold``, pairs below it are never matched.
    """
    n, m = values.shape
    ok = np.ones_like(values, dtype=bool) if allowed is None else allowed.astype(bool)
    if threshold is not None:
        ok = ok & (values >= threshold)
    if n == 0 or m == 0 or not ok.any():
        return Match((), n, m)
    if method == "greedy":
        order = np.argsort(-np.where(ok, values, -np.inf), axis=None, kind="stable")
        used_r, used_c, pairs = set(), set(), []
        for flat in order:
            i, j = divmod(int(flat), m)
            if not ok[i, j]:
                break  # sorted: everything after is forbidden too
            if i in used_r or j in used_c:
                continue
            used_r.add(i)
            used_c.add(j)
            pairs.append((i, j, float(values[i, j])))
            if len(pairs) == min(n, m):
                break
        return Match(tuple(pairs), n, m)
    from scipy.optimize import linear_sum_assignment

    if threshold is not None:
        # Maximise the number of hits first; the metric only breaks ties (its total
        # weight stays below one hit).
        eps = 0.5 / (min(n, m) + 1)
        weight = ok.astype(np.float64) + eps * (values + 1.0) / 2.0
    else:
        weight = values + 2.0  # shift so every allowed pair beats leaving it unmatched
    weight = np.where(ok, weight, 0.0)
    rows, cols = linear_sum_assignment(weight, maximize=True)
    pairs = tuple((int(i), int(j), float(values[i, j])) for i, j in zip(rows, cols) if ok[i, j])
    return Match(pairs, n, m)


def score_matches(match: Match, floor: float = 0.0, threshold: float | None = None) -> float:
    """The score of a matching (formula in the module docstring); 1.0 when both sides are empty."""
    slots = max(match.n_pred, match.n_gold)
    if slots == 0:
        return 1.0
    if threshold is None:
        total = sum(v for _, _, v in match.pairs)
    else:
        return sum(1 for _, _, v in match.pairs if v >= threshold) / slots  # 1 per hit, 0 otherwise
    total += floor * (slots - len(match.pairs))
    return float(total / slots)
