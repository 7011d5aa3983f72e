"""Read-only views of a row's values, for the Samples rewards see.

A Sample is frozen, but the lists and dicts it holds (the solution, the prompt, extra
columns) would not be: an inline reward that appended to ``sample.solution`` would
change what the next reward sees and what ``vlmr1 score`` writes back as the row. The
views below are real ``list`` and ``dict`` subclasses (``isinstance``, indexing,
iteration, ``json.dumps`` and pickling all work as before) whose mutating methods raise
``TypeError``; :func:`freeze` copies a value into them once per row.
"""

from __future__ import annotations

from typing import Any, NoReturn

__all__ = ["FrozenDict", "FrozenList", "freeze"]


def _refuse(self: Any, *args: Any, **kwargs: Any) -> NoReturn:
    raise TypeError(f"this {type(self).__bases__[0].__name__} is part of a Sample and read-only; copy it "
                    f"(list(x), dict(x), copy.deepcopy(x)) to change it")


class FrozenList(list):
    """A list whose contents cannot be changed in place."""

    __slots__ = ()
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse

    def __reduce__(self) -> Any:
        return (FrozenList, (list(self),))

    def __copy__(self) -> list:
        return list(self)  # a copy is the caller's to change

    def __deepcopy__(self, memo: dict) -> list:
        import copy

        return [copy.deepcopy(v, memo) for v in self]


class FrozenDict(dict):
    """A dict whose contents cannot be changed in place."""

    __slots__ = ()
    pop = popitem = clear = update = setdefault = _refuse
    __setitem__ = __delitem__ = __ior__ = _refuse

    def __reduce__(self) -> Any:
        return (FrozenDict, (dict(self),))

    def __copy__(self) -> dict:
        return dict(self)

    def __deepcopy__(self, memo: dict) -> dict:
        import copy

        return {copy.deepcopy(k, memo): copy.deepcopy(v, memo) for k, v in self.items()}


_PLAIN = frozenset({str, int, float, bool, type(None), bytes})


def freeze(value: Any) -> Any:
    """``value`` with every list and dict inside it copied into a read-only view (tuples
    stay tuples, with their contents frozen); anything else is returned as it is."""
    kind = type(value)
    if kind in _PLAIN or kind is FrozenList or kind is FrozenDict:
        return value
    if kind is list or (isinstance(value, list) and not isinstance(value, FrozenList)):
        return FrozenList([v if type(v) in _PLAIN else freeze(v) for v in value])
    if kind is dict or (isinstance(value, dict) and not isinstance(value, FrozenDict)):
        return FrozenDict({k: v if type(v) in _PLAIN else freeze(v) for k, v in value.items()})
    if kind is tuple:
        return tuple(v if type(v) in _PLAIN else freeze(v) for v in value)
    return value
