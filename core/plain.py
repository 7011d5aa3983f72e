"""Engine results as the plain numbers trainers other than TRL take.

Each trainer has its own rule for a reward that does not apply to a row (the engine's
None): verl skips None in its metrics but not NaN, EasyR1 averages whatever numbers it
gets, OpenRLHF turns every value into a tensor. The rule is chosen by the adapter
through ``missing``; the weighted total follows TRL's ``nansum`` everywhere (a reward
that does not apply adds nothing), and a row no reward applies to gets ``empty_total``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["OMIT", "item_dicts", "totals"]

OMIT = object()  # ``missing=OMIT``: leave a reward that does not apply out of the row's dict


def totals(result: Any, empty_total: float = 0.0) -> list[float]:
    """The weighted total per row as floats; ``empty_total`` where no reward applies."""
    return [float(t) if t is not None else float(empty_total) for t in result.total]


def item_dicts(result: Any, *, total_key: str = "score", missing: Any = None, empty_total: float = 0.0,
               reasons_key: str | None = None) -> list[dict[str, Any]]:
    """One dict per row: ``{total_key: total, <reward>: value, ...}``.

    ``missing`` is what a reward that does not apply (or failed) gives: None, a float,
    or :data:`OMIT` to leave the key out. ``reasons_key`` adds each reward's reason as
    one text (``format:ok; iou:iou=0.43``) for trainers that log text.
    """
    out = []
    for i, total in enumerate(totals(result, empty_total)):
        item: dict[str, Any] = {total_key: total}
        for name, column in result.columns.items():
            value = column[i]
            if value is not None:
                item[name] = float(value)
            elif missing is not OMIT:
                item[name] = missing
        if reasons_key is not None:
            item[reasons_key] = "; ".join(f"{name}:{reasons[i]}" for name, reasons in result.reasons.items())
        out.append(item)
    return out
