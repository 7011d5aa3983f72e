"""The hooks a vlmr1 plugin can implement.

Each hook takes a ``register`` callback: the plugin hands over records, the core
validates them, names them and notes which distribution they came from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pluggy

from .reportviews import ReportView
from .types import PromptTemplate, Reward, Verifier

if TYPE_CHECKING:
    import click

hookspec = pluggy.HookspecMarker("vlmr1")
hookimpl = pluggy.HookimplMarker("vlmr1")


@hookspec
def register_verifiers(register: Callable[[Verifier], None]) -> None:
    """Register task verifiers: ``register(Verifier(...))`` once per verifier."""


@hookspec
def register_rewards(register: Callable[[Reward], None]) -> None:
    """Register rewards: ``register(Reward(...))`` once per reward."""


@hookspec
def register_prompt_templates(register: Callable[[PromptTemplate], None]) -> None:
    """Register prompt templates: ``register(PromptTemplate(...))`` once per task."""


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add subcommands to ``vlmr1``: ``cli.add_command(command)`` or ``@cli.command()``.

    ``cli`` is a click group of the plugin's own; the core moves its commands under
    ``vlmr1`` and records who added them. Keep the hook cheap: import what a command
    needs inside its callback, so ``vlmr1 --help`` stays fast and torch-free.
    """


@hookspec
def register_report_views(register: Callable[[ReportView], None]) -> None:
    """Register report views: ``register(ReportView(...))`` to draw the plugin's answers
    (boxes, points, polygons, labelled detections) and check a scored file in
    ``vlmr1 inspect``'s report. See :mod:`vlmr1.reportviews`."""
