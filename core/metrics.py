"""The numbers that describe a reward column, computed one way everywhere.

:class:`Tally` / :func:`summarize` is the one definition behind the engine's per-batch
metrics (keyed the way TRL keys its own logs, ``rewards/<name>/mean``, so they can be
logged beside TRL's without renaming), the table ``vlmr1 score`` prints and the summary
of ``vlmr1 inspect``'s report.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .types import Verdict

__all__ = ["Summary", "Tally", "column_metrics", "failure_kind", "failures_of", "summarize", "weighted_total"]


def failure_kind(verdict: Verdict) -> str | None:
    """"timeout", "crashed", "memory" or "error" when the engine (not the reward) produced
    this verdict because scoring failed; None for a real verdict."""
    details = verdict.details
    kind = details.get("failure") if isinstance(details, Mapping) else None
    return kind if isinstance(kind, str) else None


def failures_of(verdicts: Mapping[str, Sequence[Verdict]], i: int) -> dict[str, str]:
    """``{column: failure kind}`` of item ``i``, for the columns whose verdict is a failure."""
    return {name: kind for name, col in verdicts.items() if (kind := failure_kind(col[i])) is not None}


@dataclass(frozen=True)
class Summary:
    """One column over some rows.

    ``n`` rows, ``count`` of them with a finite score; ``mean``/``std``/``min``/``max`` over
    those (None when there is none); ``none`` = ``n - count``; ``errors`` counts failures
    other than timeouts (exceptions, crashes, memory, bad gold, invalid verdicts) and
    ``timeouts`` items that ran out of time, whether or not a fallback score was given.
    """

    n: int
    count: int
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    none: int
    errors: int
    timeouts: int


class Tally:
    """A column's summary, accumulated one value at a time (a scored file may not fit in
    memory twice).

    ``std`` is the sample standard deviation (Bessel's correction, n - 1), 0.0 for a single
    value. That is the definition TRL uses for the ``rewards/<name>/std`` it logs itself,
    and the engine's metrics are logged beside TRL's under the same names: one word, one
    number. Values are kept divided by a power of two at least as large as any seen, so no
    finite input overflows (a plain sum of squares is inf past ~1e154), and rescaling when a
    larger value arrives is exact. The mean is the correctly rounded sum over the count (the
    running sum is kept exactly, as ``math.fsum`` keeps it: [1, -1] * 3 has mean 0.0, not
    3e-17); the std is Welford's running update.
    """

    __slots__ = ("n", "count", "_exp", "_partials", "_mean", "_m2", "min", "max", "errors", "timeouts")

    def __init__(self) -> None:
        self.n = self.count = self.errors = self.timeouts = 0
        self._exp = 0  # values are kept divided by 2**_exp
        self._partials: list[float] = []  # the exact running sum, as non-overlapping floats
        self._mean = self._m2 = 0.0
        self.min: float | None = None
        self.max: float | None = None

    def add(self, score: float | None, failure: str | None = None) -> None:
        """One row: its score (None, or a non-finite one, counts as no score) and failure kind."""
        self.n += 1
        if failure is not None:
            if failure == "timeout":
                self.timeouts += 1
            else:
                self.errors += 1
        if score is None or not math.isfinite(score):
            return
        x = float(score)
        exp = math.frexp(x)[1]
        if exp > self._exp:  # a larger value: rescale what is kept, exactly (powers of two)
            shift = self._exp - exp
            self._mean, self._m2, self._exp = math.ldexp(self._mean, shift), math.ldexp(self._m2, 2 * shift), exp
            self._partials = [math.ldexp(p, shift) for p in self._partials]
        xs = math.ldexp(x, -self._exp)
        _add_exact(self._partials, xs)
        self.count += 1
        delta = xs - self._mean
        self._mean += delta / self.count
        self._m2 += delta * (xs - self._mean)
        self.min = x if self.min is None or x < self.min else self.min
        self.max = x if self.max is None or x > self.max else self.max

    def summary(self) -> Summary:
        mean = std = None
        if self.count:
            mean = math.ldexp(math.fsum(self._partials) / self.count, self._exp)
            var = max(self._m2, 0.0) / (self.count - 1) if self.count > 1 else 0.0
            try:
                std = math.ldexp(math.sqrt(var), self._exp)
            except OverflowError:  # a spread beyond the float range
                std = math.inf
        return Summary(self.n, self.count, mean, std, self.min, self.max, self.n - self.count, self.errors, self.timeouts)


def _add_exact(partials: list[float], x: float) -> None:
    """Add ``x`` to a sum kept as non-overlapping partials (Shewchuk's algorithm, the one
    behind ``math.fsum``), so the sum carries no rounding error."""
    i = 0
    for y in partials:
        if abs(x) < abs(y):
            x, y = y, x
        hi = x + y
        lo = y - (hi - x)
        if lo:
            partials[i] = lo
            i += 1
        x = hi
    partials[i:] = [x]


def summarize(scores: Iterable[float | None], failures: Iterable[str | None] | None = None) -> Summary:
    """The :class:`Summary` of a column: its scores and, by position, each row's failure kind."""
    tally = Tally()
    kinds = iter(failures) if failures is not None else None
    for score in scores:
        tally.add(score, next(kinds, None) if kinds is not None else None)
    return tally.summary()


def column_metrics(name: str, verdicts: Sequence[Verdict], latency_ms: float | None) -> dict[str, float]:
    """``rewards/<name>/{mean,std,none,errors,timeouts,latency_ms}`` for one column
    (:class:`Tally`'s definitions). mean and std are left out when every score is None or
    they are not finite (which the engine's score bound rules out)."""
    s = summarize((v.score for v in verdicts), (failure_kind(v) for v in verdicts))
    out: dict[str, float] = {}
    prefix = f"rewards/{name}/"
    if s.mean is not None and s.std is not None and math.isfinite(s.mean) and math.isfinite(s.std):
        out[prefix + "mean"], out[prefix + "std"] = s.mean, s.std
    out[prefix + "none"] = float(s.none)
    out[prefix + "timeouts"] = float(s.timeouts)
    out[prefix + "errors"] = float(s.errors)
    if latency_ms is not None:
        out[prefix + "latency_ms"] = latency_ms
    return out


def weighted_total(columns: Mapping[str, Sequence[float | None]], weights: Mapping[str, float], n: int) -> list[float | None]:
    """sum(weight * score) over a row's non-None columns (TRL's ``nansum``); None when every
    weighted column is None (a weight-0 input of a formula does not make a total), or when
    the sum is not a finite number (absurd weights)."""
    total: list[float | None] = []
    for i in range(n):
        acc, seen = 0.0, False
        for name, col in columns.items():
            value = col[i]
            if value is not None and weights[name] != 0:
                acc += weights[name] * value
                seen = True
        total.append(acc if seen and math.isfinite(acc) else None)
    return total
