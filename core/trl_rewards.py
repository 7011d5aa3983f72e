"""The TRL reward functions under their first name; they live in :mod:`vlmr1.trl`."""

from __future__ import annotations

from .trl import samples_from_trl, trl_reward_functions

__all__ = ["samples_from_trl", "trl_reward_functions"]
