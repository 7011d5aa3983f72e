"""Reading config and data files so that every error can point at a line.

YAML and JSON documents are loaded with the line of every value kept beside them;
JSONL is read line by line. Validation against the shipped schemas turns each
jsonschema error into "file:line: at path: message".
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .errors import ConfigError

Path_ = tuple[Any, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        at = f" at {self.path}" if self.path else ""
        return f"{where}:{at} {self.message}"


def json_path(parts: Path_) -> str:
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def load_document(path: str | Path) -> tuple[Any, dict[Path_, int]]:
    """A YAML or JSON file's data and a map from value path to 1-based line, from one
    parse: the node tree is composed once, its lines read off it, and the data built from
    that same tree (by the safe constructor: a ``!!python/...`` tag fails here)."""
    import yaml

    text = Path(path).read_text(encoding="utf-8")
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise ConfigError(str(Problem(str(path), line, "", f"not valid YAML/JSON: {getattr(exc, 'problem', exc)}"))) from None
    finally:
        loader.dispose()
    lines: dict[Path_, int] = {}
    if node is None:
        return None, lines
    _walk(node, (), lines)
    return data, lines


def _walk(node: Any, path: Path_, lines: dict[Path_, int]) -> None:
    import yaml

    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _walk(value, path + (key.value,), lines)
            lines[path + (key.value,)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            _walk(value, path + (i,), lines)


def line_of(lines: dict[Path_, int], path: Path_) -> int | None:
    """The line of ``path``, or of its nearest ancestor that has one."""
    path = tuple(path)
    while path not in lines and path:
        path = path[:-1]
    return lines.get(path)


def schema_problems(data: Any, schema_name: str, file: str, lines: dict[Path_, int] | None = None, line: int | None = None) -> list[Problem]:
    """Every way ``data`` breaks the named schema, each located."""

    validator = _validator(schema_name)
    out = []
    for err in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        where = tuple(err.absolute_path)
        at_line = line if lines is None else line_of(lines, where)
        out.append(Problem(file, at_line, json_path(where), _explain(err)))
    return out


def _explain(err: Any) -> str:
    if err.validator == "additionalProperties":
        return f"{err.message}; allowed keys: {', '.join(sorted(err.schema.get('properties', {})))}"
    if err.validator == "required":
        return err.message
    if err.validator == "pattern":
        return f"{err.instance!r} does not match the expected form {err.schema['pattern']}"
    return err.message


_VALIDATORS: dict[str, Any] = {}


def _validator(name: str) -> Any:
    if name not in _VALIDATORS:
        from jsonschema import Draft202012Validator

        from vlmr1.schemas import load

        _VALIDATORS[name] = Draft202012Validator(load(name))
    return _VALIDATORS[name]


MAX_DEPTH = 100  # nesting a row may have: deeper breaks pickling and JSON encoding further on
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # how one can get into a line


class _BadValue(ValueError):
    """A JSON value Python can read but a scored row must not carry."""


def _no_constant(name: str) -> Any:
    raise _BadValue(f"{name} is not a number in JSON; write null (or a string) instead")


def _finite_float(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise _BadValue(f"the number {text[:40]} is out of range for a 64-bit float")
    return value


def _check_value(row: Any, raw: bytes) -> str | None:
    """Why a parsed row cannot be scored (too deep, a lone surrogate), or None.

    Both can only come from escapes or brackets in the raw line, so most lines skip the walk.
    """
    deep = raw.count(b"[") + raw.count(b"{") > MAX_DEPTH
    escaped = _SURROGATE_ESCAPE.search(raw) is not None
    if not (deep or escaped):
        return None
    stack: list[tuple[Any, int, str]] = [(row, 1, "$")]
    while stack:
        value, depth, where = stack.pop()
        if isinstance(value, str):
            lone = _LONE_SURROGATE.search(value) if escaped else None
            if lone:
                return f"a lone surrogate escape (\\u{ord(lone.group()):04x}) at {where}: it is not a character; fix the text"
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth > MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH} levels (at {where[:80]}...)"
        if isinstance(value, dict):
            for k, v in value.items():
                if escaped and _LONE_SURROGATE.search(k):
                    return f"a lone surrogate escape in a key at {where}: it is not a character; fix the text"
                stack.append((v, depth + 1, f"{where}.{k}"))
        else:
            stack.extend((v, depth + 1, f"{where}[{i}]") for i, v in enumerate(value))
    return None


def parse_row(raw: bytes) -> tuple[Any, str | None]:
    """One JSONL line as ``(value, None)`` or ``(None, why it cannot be used)``.

    Stricter than ``json.loads``: NaN and Infinity literals, numbers beyond a float, integers
    over Python's 4300-digit limit, nesting past ``MAX_DEPTH`` and lone surrogate escapes are
    refused, so that no such value reaches a reward or the scored output.
    """
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite_float)
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 text ({exc.reason} at byte {exc.start})"
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc.msg} (column {exc.colno})"
    except _BadValue as exc:
        return None, f"not valid JSON: {exc}"
    except ValueError:  # an integer past int's string-conversion limit (4300 digits)
        return None, f"not usable JSON: an integer with more than {sys.get_int_max_str_digits()} digits; write it as a string"
    except RecursionError:
        return None, f"not usable JSON: nested deeper than {MAX_DEPTH} levels"
    why = _check_value(value, raw)
    return (None, f"not usable JSON: {why}") if why else (value, None)


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, Any, str | None]]:
    """``(line_number, row, error)`` for each non-blank line; a bad line gives ``(n, None, why)``.

    Lines are read as bytes, so one line that is not UTF-8 is reported alone instead of
    ending the whole read with a decode error. A UTF-8 byte-order mark at the start of the
    file (as some Windows editors write) is skipped. See :func:`parse_row` for what else a
    line is refused for.
    """
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            row, why = parse_row(raw)
            if why is not None:
                yield n, None, why
            elif not isinstance(row, dict):
                yield n, None, f"expected a JSON object, got {type(row).__name__}"
            else:
                yield n, row, None


def validate_file(path: str | Path, kind: str | None = None) -> tuple[str, list[Problem]]:
    """Check a config, mixture or data file; ``kind`` is guessed from its content when None."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such file")
    if path.suffix == ".jsonl" or kind == "row":
        problems = []
        for n, row, err in iter_jsonl(path):
            if err:
                problems.append(Problem(str(path), n, "", err))
            else:
                problems += schema_problems(row, "row", str(path), line=n)
        return "row", problems
    data, lines = load_document(path)
    return validate_document(data, lines, path, kind)


def validate_document(data: Any, lines: dict[Path_, int], path: str | Path, kind: str | None = None) -> tuple[str, list[Problem]]:
    """:func:`validate_file` for a document already read with :func:`load_document`."""
    if kind is None:
        kind = "mixture" if isinstance(data, dict) and "datasets" in data else "config"
    return kind, schema_problems(data, kind, str(path), lines)
