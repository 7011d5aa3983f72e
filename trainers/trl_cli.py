"""vlmr1 rewards for ``trl grpo --reward_funcs``, configured by an environment variable.

``trl grpo`` imports ``module.func`` for every reward function name with a dot, so
functions must exist at module level before anyone could call a setup function.
Here they do: ``vlmr1.trainers.trl_cli.<reward>`` is the configured reward of that name
(from the config at ``VLMR1_CONFIG``), and ``vlmr1.trainers.trl_cli.total`` the
weighted total::

    VLMR1_CONFIG=rewards.yaml trl grpo ... \\
        --reward_funcs vlmr1.trainers.trl_cli.format vlmr1.trainers.trl_cli.accuracy \\
        --reward_weights 0.5 1.0

Each function carries its reward's name (TRL logs ``rewards/<name>/mean``) and all of
them share one engine call per batch, as with ``vlmr1 train``.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

_lock = threading.Lock()
_funcs: dict[int, dict[str, Callable[..., Any]]] = {}


def functions(config: Any = None) -> dict[str, Callable[..., Any]]:
    """The reward functions of the config (``VLMR1_CONFIG`` by default), by reward name."""
    from vlmr1.trainers.verl import engine
    from vlmr1.trl import trl_reward_functions

    eng = engine(config)
    with _lock:
        if id(eng) not in _funcs:
            funcs, _ = trl_reward_functions(eng.config, engine=eng)
            _funcs.clear()
            _funcs[id(eng)] = {f.__name__: f for f in funcs}
        return _funcs[id(eng)]


def total(prompts: Any = None, completions: Any = None, **kwargs: Any) -> list[float | None]:
    """The config's weighted total as one TRL reward function (sync)."""
    from vlmr1.trainers.verl import engine
    from vlmr1.trl import samples_from_trl

    eng = engine()
    columns = {k: v for k, v in kwargs.items() if k not in ("log_extra", "log_metric")}
    return list(eng.score(samples_from_trl(prompts, completions, columns, eng.config.task)).total)


total.__name__ = total.__qualname__ = "vlmr1"


def __getattr__(name: str) -> Callable[..., Any]:
    if name.startswith("__"):
        raise AttributeError(name)
    funcs = functions()
    if name not in funcs:
        raise AttributeError(f"vlmr1.trainers.trl_cli has no reward {name!r}; the config at VLMR1_CONFIG "
                             f"configures {', '.join(funcs)} (or use vlmr1.trainers.trl_cli.total)")
    return funcs[name]
