"""The params of the ``math``, ``mcq`` and ``yes_no`` rewards and their defaults: plain
data, so that registering the plugin imports none of the implementation (math-verify)."""

from __future__ import annotations

from typing import Any

__all__ = ["MATH_DEFAULTS", "MCQ_DEFAULTS", "YES_NO_DEFAULTS"]

MATH_DEFAULTS: dict[str, Any] = {
    "rel_tol": 0.0,
    "abs_tol": 0.0,
    "max_chars": 1000,
    "max_depth": 24,
    "float_rounding": 6,
}

MCQ_DEFAULTS: dict[str, Any] = {"require_tags": False, "partial": False, "options_column": "options", "max_chars": 4000, "compat": None}
YES_NO_DEFAULTS: dict[str, Any] = {"require_tags": False, "max_chars": 4000, "compat": None}
