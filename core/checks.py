"""The checks that run before anything is scored: reward names, params and columns.

Building an :class:`~vlmr1.engine.Engine` runs the first two for every configured reward
(so `vlmr1 score`, `vlmr1 train`, `vlmr1 serve` and `vlmr1 validate` refuse a bad config
the same way, before a model loads or a row is scored); the third runs on rows, when the
caller has them: `vlmr1 score` on its first chunk, the trainer on every row it loaded.

- **Names**: every configured reward resolves to a registered one; an unknown name gets
  the nearest known name and, when a plugin failed to load, that plugin and its error.
- **Param keys**: a reward takes its ``defaults`` keys and the names in ``params``; any
  other key is refused with the nearest known key (``treshold`` -> ``threshold``).
  A reward with ``params=None`` takes any key.
- **Param values**: the reward's own ``check_params``, under the inline watchdog.
- **Columns**: each reward's ``needs`` (``"solution"``, ``"a|b"`` for either). A column
  that no checked row has (value missing or null), while some row is in the reward's
  scope, is refused: the dataset names it differently, or lacks it. Rows that lack it
  among rows that have it are scored as usual (None, with the reward's reason).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .errors import ConfigError
from .types import Reward, Sample

if TYPE_CHECKING:
    from .config import RewardSpec

__all__ = ["check_columns", "in_scope", "check_param_keys", "check_param_values", "needed_columns", "reward_for", "who"]


def who(target: str, reward: Reward | None) -> str:
    """``registered reward 'x' from plugin 'p' (distribution d 1.0)``: what messages call a reward."""
    prov = reward.provenance if reward is not None else None
    head = f"registered reward {target!r}"
    return f"{head} from plugin {prov.plugin!r} (distribution {prov.distribution} {prov.version})" if prov else head


def reward_for(registry: Any, spec: RewardSpec) -> Reward:
    """The registered reward a config entry runs, its ``"module:attr"`` callables imported.

    Raises UnknownNameError / PluginConflictError (from the registry), or
    :class:`~vlmr1.lazy.ReferenceLoadError` when the plugin's code does not import."""
    reward: Reward = registry.reward(spec.target)
    return reward.resolved()


def _nowhere(*key: str) -> str:
    return ""


def check_param_keys(spec: RewardSpec, reward: Reward, at: Callable[..., str] = _nowhere) -> None:
    """Refuse a configured param key the reward does not take, naming the nearest known key.
    ``at(*key)`` gives the ``"file:line: "`` of a key of the entry (nothing for a config in code)."""
    known = reward.known_params()
    if known is None:
        return
    unknown = [k for k in spec.params if k not in known]
    if not unknown:
        return
    parts = []
    for key in unknown:
        close = difflib.get_close_matches(str(key), sorted(known), n=1, cutoff=0.6)
        parts.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    takes = ", ".join(sorted(known)) if known else "no params"
    raise ConfigError(
        f"{at('params', unknown[0])}reward {spec.name!r} ({who(spec.target, reward)}) has no param "
        f"{', '.join(parts)}. It takes: {takes}. Fix the key in the config's `params`."
    )


def check_param_values(spec: RewardSpec, reward: Reward, params: Mapping[str, Any],
                       call: Callable[..., Any] | None = None, at: Callable[..., str] = _nowhere) -> None:
    """Run the reward's ``check_params`` on the merged params; any complaint is a ConfigError.

    ``call(fn, params)`` runs it (the engine passes its inline watchdog); a TimeoutError
    from ``call`` (its message: the budget it gave) is a plugin that does not return."""
    if reward.check_params is None:
        return
    try:
        (call or (lambda fn, p: fn(p)))(reward.check_params, params)
    except TimeoutError as exc:
        raise ConfigError(f"{at()}reward {spec.name!r} ({who(spec.target, reward)}): check_params did not return within "
                          f"{exc}. Fix or uninstall the plugin.") from None
    except Exception as exc:  # noqa: BLE001 - any complaint about params is a config error
        raise ConfigError(f"{at('params')}reward {spec.name!r} (registered reward {spec.target!r}): "
                          f"bad params: {exc}") from exc


def needed_columns(reward: Reward | None, spec: RewardSpec) -> list[tuple[str, ...]]:
    """The columns a configured reward needs, each as its alternatives: ``[("solution",)]``.
    A dispatch column needs the column it dispatches on unless it has an ``otherwise`` case."""
    out = [tuple(a.strip() for a in need.split("|") if a.strip()) for need in (reward.needs if reward else ())]
    if spec.merge and not any(where.exclude for _, where in spec.merge):
        out.append((spec.merge[0][1].column,))
    return [alts for alts in out if alts]


def _value(row: Sample | Mapping[str, Any], key: str) -> Any:
    return row.get(key)


def in_scope(reward: Reward | None, spec: RewardSpec, row: Sample | Mapping[str, Any], default_task: str | None = None) -> bool:
    """Whether a configured column scores ``row``: the reward's own tasks, the config entry's
    ``tasks`` and ``where``. The one rule the engine scores by and the column check counts by."""
    task = _value(row, "task")
    task = default_task if task is None else task
    if spec.tasks is not None and task not in spec.tasks:
        return False
    if reward is not None and reward.tasks is not None and task not in reward.tasks:
        return False
    return spec.where is None or spec.where.matches(row)


def check_columns(planned: Iterable[tuple[RewardSpec, Reward | None]], rows: Sequence[Sample | Mapping[str, Any]],
                  *, default_task: str | None = None, source: str = "the rows",
                  labels: Sequence[Any] | None = None) -> None:
    """Refuse rows in which a column some configured reward needs appears nowhere.

    ``planned``: each configured column's spec and registered reward (None for a formula
    or a dispatch column); ``rows``: dataset rows (mappings) or Samples; ``labels``: what
    to call each row in a message (its input line), else "row N"."""
    rows = list(rows)
    if not rows:
        return
    problems = []
    for spec, reward in planned:
        for alts in needed_columns(reward, spec):
            if any(_value(row, a) is not None for row in rows for a in alts):
                continue
            scope = [i for i, row in enumerate(rows) if in_scope(reward, spec, row, default_task)]
            if not scope:
                continue
            where = ", ".join(str(labels[i]) if labels is not None else f"row {i + 1}" for i in scope[:5])
            more = f" and {len(scope) - 5} more" if len(scope) > 5 else ""
            names = " or ".join(f"`{a}`" for a in alts)
            others = sorted({str(k) for row in rows[:50] if isinstance(row, Mapping) for k in row})
            close = difflib.get_close_matches(alts[0], others, n=1, cutoff=0.6)
            hint = f" The rows have {close[0]!r}: rename it to {alts[0]!r}." if close else ""
            problems.append(f"reward {spec.name!r} needs the column {names}, which none of {source} has "
                            f"({len(scope)} in its scope: {where}{more}).{hint}")
    if problems:
        raise ConfigError("\n  ".join(["the rows lack columns the rewards need:", *problems])
                          + "\n  Add the column to the data (or correct its name) before scoring.")
