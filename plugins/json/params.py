"""The params of the ``format`` and ``json`` rewards and their defaults: plain data, so
that registering the plugin imports none of the implementation (jsonschema)."""

from __future__ import annotations

from typing import Any

__all__ = ["FORMAT_DEFAULTS", "JSON_DEFAULTS"]

FORMAT_DEFAULTS: dict[str, Any] = {
    "template": None,
    "strict": True,
    "check_answer": True,
    "think_prefilled": False,
    "max_chars": 50_000,
    "max_depth": 32,
    "max_digits": 50,
    "options_column": "options",
    "lenient": False,
    "compat": None,
}

JSON_DEFAULTS: dict[str, Any] = {
    "schema": None,
    "template": None,
    "require_tags": False,
    "lenient": False,
    "max_chars": 50_000,
    "max_depth": 32,
    "max_digits": 50,
}
