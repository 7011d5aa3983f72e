"""References to code by name: ``"package.module:attr"``, imported on first use.

A plugin registers its rewards when the registry loads, which every command does, even
`vlmr1 plugins`. If registering imported each reward's implementation, listing what is
installed would pay for numpy, shapely, jsonschema and math-verify. So a record's
callables may be given as text, and whoever first calls one (the engine, when it builds
a column) resolves it, once. Listing never does.
"""

from __future__ import annotations

import importlib
import re
from typing import Any, Callable

from .errors import VlmrError

__all__ = ["Ref", "ReferenceLoadError", "check_ref", "is_ref", "resolve"]

Ref = str  # "package.module:attr" or "package.module:Class.attr"
_REF = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")


class ReferenceLoadError(VlmrError):
    """A ``"module:attr"`` reference that does not name a callable (a broken plugin)."""


def is_ref(value: Any) -> bool:
    """Whether ``value`` is well-formed ``"module:attr"`` text."""
    return isinstance(value, str) and bool(_REF.match(value))


def check_ref(value: Any, what: str) -> None:
    """Raise ValueError when text given for a callable is not a ``"module:attr"`` reference,
    so a typo fails when the plugin registers, not when a run first uses it."""
    if isinstance(value, str) and not is_ref(value):
        raise ValueError(f"{what}: {value!r} is not a 'package.module:attr' reference to a function")


def resolve(ref: Callable[..., Any] | str, what: str = "reference") -> Callable[..., Any]:
    """``ref`` itself when it is a callable, else the callable its text names.

    Raises :class:`ReferenceLoadError` naming ``what`` and the reference when the module does
    not import, has no such attribute, or the attribute is not callable."""
    if not isinstance(ref, str):
        return ref
    if not is_ref(ref):
        raise ReferenceLoadError(f"{what}: {ref!r} is not a 'package.module:attr' reference")
    module, _, attr = ref.partition(":")
    try:
        obj: Any = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except Exception as exc:  # noqa: BLE001 - whatever the plugin's import raises, say where
        raise ReferenceLoadError(f"{what}: cannot load {ref!r}: {type(exc).__name__}: {exc}. "
                             f"Fix or reinstall the plugin that registered it.") from exc
    if not callable(obj):
        raise ReferenceLoadError(f"{what}: {ref!r} is a {type(obj).__name__}, not a function")
    return obj
