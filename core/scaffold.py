"""`vlmr1 new-plugin`: write a ready-to-install plugin package from the shipped template.

The template lives in ``vlmr1/templates/plugin`` as package data. Every file ends in
``.tmpl`` (so neither pytest nor byte-compilation ever treats a half-filled file as
code), ``__module__`` in a path becomes the import name, and a leading ``_`` on a
file name becomes a dot (``_gitignore.tmpl`` -> ``.gitignore``), because dotfiles are
easy to lose in packaging. Placeholders are ``{{var}}``; an unknown one is an error,
so a template can never ship with a hole in it.

What the user types goes into three languages, each escaped by its own rule: TOML
strings by :func:`toml_string` (checked against ``tomllib``), Python strings by ``repr``,
the module docstring by escaping backslashes and triple quotes. Text that no file can
hold (control characters, lone surrogates) is refused with a message.
"""

from __future__ import annotations

import keyword
import re
import shutil
import unicodedata
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Iterator, Mapping

from .errors import VlmrError

NAME_RULE = re.compile(r"[a-z][a-z0-9_]{0,39}")  # always used with fullmatch: "$" would let "abc\n" through
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class ScaffoldError(VlmrError):
    """A plugin name or target directory that `vlmr1 new-plugin` cannot use."""


@dataclass(frozen=True)
class PluginNames:
    """Every spelling of one plugin name the template needs."""

    name: str  # the entry-point, reward, verifier and template name: "ocr_lines"
    module: str  # the import package: "vlmr1_reward_ocr_lines"
    dist: str  # the distribution and directory: "vlmr1-reward-ocr-lines"


def suggest_name(raw: str) -> str:
    """The nearest valid name: "My-OCR task" -> "my_ocr_task", "3d" -> "task_3d"."""
    s = re.sub(r"[^a-z0-9]+", "_", raw.strip().lower())
    s = re.sub(r"^(vlmr1_reward_|vlmr1_)", "", s).strip("_")
    s = re.sub(r"_+", "_", s)
    if not s:
        return "my_task"
    if not s[0].isalpha():
        s = f"task_{s}"
    return s[:40].rstrip("_")


def plugin_names(raw: str, taken: Mapping[str, str] | None = None) -> PluginNames:
    """Validate NAME and derive the module and distribution names from it.

    ``taken`` maps names already registered to who registered them; a plugin reusing
    one would make that name ambiguous in every run, so it is refused.
    """
    if not NAME_RULE.fullmatch(raw) or keyword.iskeyword(raw):
        suggestion = suggest_name(raw)
        raise ScaffoldError(
            f"Plugin name {raw!r} is not valid: a name starts with a lowercase letter and has only "
            f"lowercase letters, digits and underscores (at most 40), because it becomes the reward name "
            f"and the Python module vlmr1_reward_NAME. Try `vlmr1 new-plugin {suggestion}`."
        )
    for prefix in ("vlmr1_reward_", "vlmr1_"):
        if raw.startswith(prefix) and raw != prefix.rstrip("_"):
            raise ScaffoldError(
                f"Plugin name {raw!r} repeats the prefix: the package is already called vlmr1-reward-NAME. "
                f"Try `vlmr1 new-plugin {raw[len(prefix):]}`."
            )
    if taken and raw in taken:
        raise ScaffoldError(
            f"The name {raw!r} is already registered by {taken[raw]}; a second plugin with that name "
            f"would make it ambiguous in every run. Pick another name, e.g. `vlmr1 new-plugin my_{raw}`."
        )
    return PluginNames(raw, f"vlmr1_reward_{raw}", "vlmr1-reward-" + raw.replace("_", "-"))


def template_root() -> Traversable:
    return files("vlmr1") / "templates" / "plugin"


def _walk(node: Traversable, rel: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Traversable]]:
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.name == "__pycache__":
            continue
        if child.is_dir():
            yield from _walk(child, rel + (child.name,))
        elif child.name.endswith(".tmpl"):
            yield rel + (child.name,), child


def render(text: str, values: Mapping[str, str], where: str = "<template>") -> str:
    """Fill ``{{var}}`` placeholders; an unknown placeholder is an error, not a blank."""

    def fill(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in values:
            raise ScaffoldError(f"{where}: template placeholder {{{{{key}}}}} has no value (known: {', '.join(sorted(values))})")
        return values[key]

    return _PLACEHOLDER.sub(fill, text)


def _target_path(parts: tuple[str, ...], names: PluginNames) -> Path:
    out = []
    for i, part in enumerate(parts):
        if i == len(parts) - 1:
            part = part[: -len(".tmpl")]
            if part.startswith("_") and not part.startswith("__"):
                part = "." + part[1:]
        out.append(part.replace("__module__", names.module))
    return Path(*out)


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string: quote, backslash and control characters escaped,
    everything else (emoji included) written as itself."""
    out = ['"']
    for ch in text:
        cp = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif cp < 0x20 or cp == 0x7F:
            out.append(f"\\u{cp:04X}")
        elif 0xD800 <= cp <= 0xDFFF:
            raise ValueError(f"a lone surrogate (U+{cp:04X}) cannot be written to a UTF-8 file")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def clean_text(value: str, option: str) -> str:
    """One line of printable text: whitespace runs become one space; control characters
    and lone surrogates (which no UTF-8 file can hold) are a ScaffoldError naming ``option``."""
    value = " ".join(value.split())
    bad = sorted({f"U+{ord(ch):04X}" for ch in value if unicodedata.category(ch) in ("Cc", "Cs")})
    if bad:
        raise ScaffoldError(f"{option} {value!r} contains characters no package file can hold ({', '.join(bad)}); give printable text.")
    return value


def template_values(names: PluginNames, author: str, description: str) -> dict[str, str]:
    from . import __version__

    author = clean_text(author, "--author")
    description = clean_text(description, "--description") or f"rewards for the {names.name} task."
    return {
        "name": names.name,
        "module": names.module,
        "dist": names.dist,
        "author": author,
        "author_toml": toml_string(author),
        "description": description,
        "description_toml": toml_string(description),
        "description_py": repr(description),
        "description_doc": description.replace("\\", "\\\\").replace('"""', '\\"\\"\\"'),
        "vlmr1_version": __version__,
    }


def new_plugin(
    raw_name: str,
    directory: str | Path = ".",
    author: str = "Your Name",
    description: str = "",
    taken: Mapping[str, str] | None = None,
) -> tuple[Path, list[Path]]:
    """Write ``vlmr1-reward-NAME/`` under ``directory``; returns it and the files written.

    Refuses to write into a directory that exists and is not empty, so nothing a user
    wrote is ever overwritten.
    """
    names = plugin_names(raw_name, taken)
    root = Path(directory) / names.dist
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ScaffoldError(
            f"{root} already exists and is not empty; vlmr1 new-plugin never overwrites files. "
            f"Remove it, or choose another place with --dir."
        )
    values = template_values(names, author, description)
    planned = [(_target_path(parts, names), node) for parts, node in _walk(template_root())]
    if not planned:
        raise ScaffoldError(f"the plugin template is missing from this vlmr1 installation ({template_root()}); reinstall vlmr1.")
    rendered = [(rel, render(node.read_text(encoding="utf-8"), values, "/".join(rel.parts))) for rel, node in planned]
    made_root = not root.exists()
    written: list[Path] = []
    try:
        for rel, text in rendered:
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
    except BaseException as exc:  # a full disk, a file-size limit: leave no half-written package behind
        if made_root:
            shutil.rmtree(root, ignore_errors=True)
        else:
            for path in written:
                path.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ScaffoldError(
                f"could not write {path}: {exc.strerror or exc}; nothing was left behind. Free some space, or choose another place with --dir."
            ) from exc
        raise
    return root, written


def registered_reward_owners() -> dict[str, str]:
    """Names already installed (rewards, verifiers, templates) and who owns them.

    The scaffold registers all three under NAME, so any of them taken is a clash.
    """
    from .registry import get_registry

    registry = get_registry()
    owners: dict[str, str] = {}
    for kind, table in registry.items.items():
        for name, item in table.items():
            owners.setdefault(name, f"{item.provenance} (as a {kind})" if item.provenance else f"another plugin (as a {kind})")
    return owners
