"""Errors that say what went wrong and what to do next."""

from __future__ import annotations

import difflib
from typing import Iterable


class VlmrError(Exception):
    """Base of every error vlmr1 raises on purpose; the CLI prints these without a traceback."""


class UnknownNameError(VlmrError, KeyError):
    """A reward, verifier or template name that nothing registered."""

    def __init__(self, kind: str, name: str, known: Iterable[str], held_back: Iterable[str] = (),
                 broken: Iterable[str] = ()) -> None:
        """``held_back``: installed plugins the allow list left out; ``broken``: installed
        plugins that failed to load ("name (distribution version): error"), either of which
        may be the one that provides ``name``."""
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        listing = ", ".join(known) if known else "none"
        held = sorted(held_back)
        held_hint = (
            f" Installed plugins not loaded because VLMR1_PLUGINS leaves them out: {', '.join(held)};"
            f" add the one you need to VLMR1_PLUGINS." if held else ""
        )
        failed = list(broken)
        if failed:
            what = "; ".join(failed)
            end = (f" Installed plugin(s) that failed to load, so whatever they register is missing: {what}."
                   f" Fix or reinstall the one that provides {name!r} (`vlmr1 plugins` shows its error).")
        else:
            end = " Run `vlmr1 plugins` to see what is installed, or `pip install` the plugin that provides it."
        super().__init__(f"Unknown {kind} {name!r}.{hint} Installed {kind}s: {listing}.{held_hint}{end}")
        self.kind, self.name, self.suggestion = kind, name, (close[0] if close else None)

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class PluginConflictError(VlmrError):
    """Two plugins registered the same name; using it would be ambiguous."""


class ConfigError(VlmrError):
    """A config or data file that does not match its schema; the message says where."""


class PluginFailure(VlmrError):
    """A plugin failed while scoring and ``engine.strict`` is on."""


class ReportError(VlmrError):
    """A scored file `vlmr1 inspect` cannot read, or a report it cannot write."""
