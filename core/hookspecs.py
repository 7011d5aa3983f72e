"""The hooks a vlmr1 plugin can implement.

Each hook takes a ``register`` callback: the plugin hands over records, the core
validates them, names them and notes which distribution they came from.
"""

from __future__ import annotations

from typing import Callable

import pluggy

from .types import PromptTemplate, Reward, Verifier

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
