"""The params of the text rewards and their defaults: plain data, so that registering the
plugin imports none of the implementation (rapidfuzz, math-verify)."""

from __future__ import annotations

from typing import Any

__all__ = ["CHAIN_DEFAULTS", "COSINE_DEFAULTS", "FUZZY_DEFAULTS", "MATCH_DEFAULTS", "REPETITION_DEFAULTS"]

MATCH_DEFAULTS: dict[str, Any] = {"compat": None, "require_tags": False, "max_chars": 20_000}
FUZZY_DEFAULTS: dict[str, Any] = {**MATCH_DEFAULTS, "scorer": "ratio", "threshold": None}
CHAIN_DEFAULTS: dict[str, Any] = {"max_chars": 20_000}
COSINE_DEFAULTS: dict[str, Any] = {
    "min_value_wrong": -1.0, "max_value_wrong": -0.5, "min_value_correct": 0.5, "max_value_correct": 1.0,
    "max_len": 1000, "unit": "chars", "correct": "math", "max_chars": 200_000,
}
REPETITION_DEFAULTS: dict[str, Any] = {"ngram_size": 6, "max_penalty": -1.0, "boxes": False, "max_chars": 200_000}
