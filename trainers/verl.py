"""vlmr1 rewards inside verl, as its ``custom_reward_function``.

verl (Ray-based RL training) calls a plain function per response,
``compute_score(data_source, solution_str, ground_truth, extra_info)`` (its reward-loop
``naive`` / ``dapo`` managers and the legacy ``naive`` / ``dapo``), or once per batch
with the plural keyword names (the legacy ``batch`` manager), or awaits
:func:`compute_score_async` (reward-loop managers await a coroutine function and run a
plain one in a thread pool). It wants a dict whose ``"score"`` is the reward and whose
other keys it logs as extra columns (the same keys for every item), except the legacy
``prime`` manager, which wants a number: :func:`compute_score_float`.

This module answers both from one long-lived :class:`vlmr1.engine.Engine` per
process, so worker pools start once and prepared ground truth is reused across
steps. The reward config comes from, first to last: the ``config`` keyword (verl
passes ``custom_reward_function.reward_kwargs`` through as keywords), a call to
:func:`configure`, or the ``VLMR1_CONFIG`` environment variable (a config path;
set it in the Ray runtime env so every worker sees it).

What reaches the rewards: ``solution_str`` is the completion; ``ground_truth`` the
solution (a string that holds a JSON list or object, e.g. a box, is parsed; an
``<answer>``-wrapped one is unwrapped); ``extra_info`` may carry ``task``,
``image_size`` and ``input_size`` ([w, h] each; box rewards need both), ``id``,
``image`` and any other column. The task is ``extra_info["task"]``, else
``data_source`` (or its last ``/`` part) when it names a known task, else the
config's ``task``. :func:`verl_record` writes rows in that shape.

verl loads the function either as ``pkg://vlmr1.trainers.verl`` or by file path; the
module uses only absolute imports so both work.
"""

from __future__ import annotations

import atexit
import os
import threading
from pathlib import Path
from typing import Any, Mapping, Sequence

ENV = "VLMR1_CONFIG"
REASON_KEY = "vlmr1_reasons"

_lock = threading.RLock()
_state: dict[str, Any] = {"key": None, "engine": None, "configured": None, "registry": None, "pid": None}


def configure(config: Any = None, *, registry: Any = None) -> None:
    """Use this config (a :class:`vlmr1.config.Config`, a mapping, or a path) from now on.

    ``None`` forgets it (the environment variable applies again). The previous engine
    is closed.
    """
    with _lock:
        _close()
        _state["configured"] = config
        _state["registry"] = registry


def close() -> None:
    """Stop the process's engine (its worker pool). Called at exit as well."""
    with _lock:
        _close()


def _close() -> None:
    engine = _state.get("engine")
    _state["engine"], _state["key"] = None, None
    if engine is not None and _state["pid"] == os.getpid():  # a forked child does not own its parent's pool
        engine.close()


atexit.register(close)


def _load(config: Any) -> Any:
    from vlmr1.config import Config, config_from_dict, load_config
    from vlmr1.errors import ConfigError

    if isinstance(config, Config):
        return config
    if isinstance(config, (str, Path)):
        return load_config(config)
    if isinstance(config, Mapping):
        from vlmr1.documents import schema_problems

        data = _plain(config)
        problems = schema_problems(data, "config", "<verl reward config>")
        if problems:
            raise ConfigError("invalid reward config:\n  " + "\n  ".join(map(str, problems)))
        return config_from_dict(data, "<verl reward config>")
    raise ConfigError(f"reward config must be a path, a mapping or a Config, not {type(config).__name__}")


def _plain(value: Any) -> Any:
    """Plain dicts and lists (verl hands reward_kwargs over as OmegaConf containers)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ListConfig":
        return [_plain(v) for v in value]
    return value


def _key(config: Any) -> Any:
    """Identity of a config: a resolved path, the content of a mapping, or the object."""
    import json

    if isinstance(config, (str, Path)):
        return "path:" + str(Path(config).resolve())
    if isinstance(config, Mapping):
        return "data:" + json.dumps(_plain(config), sort_keys=True, default=str)
    return ("object", id(config))


def engine(config: Any = None) -> Any:
    """The process's engine for ``config`` (or the configured / environment one)."""
    from vlmr1.errors import ConfigError

    with _lock:
        chosen = config if config is not None else _state["configured"]
        if chosen is None:
            chosen = os.environ.get(ENV)
        if not chosen:
            raise ConfigError(
                f"no vlmr1 reward config: set {ENV}=/path/to/rewards.yaml in the environment of verl's reward "
                "workers, pass custom_reward_function.reward_kwargs.config=/path/to/rewards.yaml, or call "
                "vlmr1.trainers.verl.configure(config) first."
            )
        key = _key(chosen)
        if _state["pid"] != os.getpid():  # forked (verl's prime manager scores in a process pool)
            _state["engine"], _state["key"] = None, None
        if _state["engine"] is None or _state["key"] != key:
            from vlmr1.engine import Engine

            _close()
            _state["engine"] = Engine(_load(chosen), registry=_state["registry"])
            _state["key"], _state["pid"] = key, os.getpid()
        return _state["engine"]


def _known_tasks(eng: Any) -> set[str]:
    from vlmr1.rows import known_tasks

    return known_tasks(eng)


def task_for(data_source: Any, extra_info: Mapping[str, Any] | None, known: set[str]) -> str | None:
    """``extra_info["task"]``, else the data source (or its last ``/`` part) if it names a known task."""
    from vlmr1.rows import task_for_source

    return task_for_source(data_source, extra_info, known)


def row_for(data_source: Any, solution_str: Any, ground_truth: Any, extra_info: Mapping[str, Any] | None,
            known: set[str]) -> dict[str, Any]:
    """The vlmr1 row one verl response stands for."""
    from vlmr1.rows import row_from_verl

    return row_from_verl(data_source, solution_str, ground_truth, extra_info, known)


def score_rows(rows: Sequence[Mapping[str, Any]], eng: Any) -> list[dict[str, Any]]:
    """verl's per-item dicts: ``score`` (the weighted total; 0.0 when no reward applies),
    one float per configured reward (None where it does not apply: verl's metrics skip
    None, while a NaN would turn a whole validation metric into nan) and the reasons."""
    return _items(eng.score(list(rows)))


def _items(result: Any) -> list[dict[str, Any]]:
    from vlmr1.plain import item_dicts

    return item_dicts(result, total_key="score", missing=None, reasons_key=REASON_KEY)


def compute_score(
    data_source: Any = None,
    solution_str: str | None = None,
    ground_truth: Any = None,
    extra_info: Mapping[str, Any] | None = None,
    *,
    data_sources: Sequence[Any] | None = None,
    solution_strs: Sequence[str] | None = None,
    ground_truths: Sequence[Any] | None = None,
    extra_infos: Sequence[Mapping[str, Any]] | None = None,
    config: Any = None,
    **_: Any,
) -> dict[str, Any] | list[dict[str, Any]]:
    """verl's ``custom_reward_function``: one response (naive manager) or a batch (batch manager).

    Returns a dict (``score`` plus per-reward values) per response, a list of them for
    a batch. Unknown keywords (verl adds some) are ignored.
    """
    if solution_strs is not None:
        return compute_score_batch(data_sources, solution_strs, ground_truths, extra_infos, config=config)
    eng = engine(config)
    return score_rows([row_for(data_source, solution_str, ground_truth, extra_info, _known_tasks(eng))], eng)[0]


def compute_score_float(data_source: Any = None, solution_str: str | None = None, ground_truth: Any = None,
                        extra_info: Mapping[str, Any] | None = None, *, config: Any = None, **_: Any) -> float:
    """The weighted total alone, for verl's legacy ``prime`` manager: it calls
    ``fn(data_source, solution_str, ground_truth, extra_info)`` positionally in a process
    pool and reads a number (or ``result[0]``), so a dict would score every row 0."""
    return float(compute_score(data_source, solution_str, ground_truth, extra_info, config=config)["score"])


async def compute_score_async(
    data_source: Any = None,
    solution_str: str | None = None,
    ground_truth: Any = None,
    extra_info: Mapping[str, Any] | None = None,
    *,
    config: Any = None,
    **_: Any,
) -> dict[str, Any]:
    """The same as :func:`compute_score` for one response, as a coroutine.

    verl's reward-loop managers await a coroutine function on their event loop
    (a plain one runs in a thread pool); here the engine scores on that loop.
    """
    eng = engine(config)
    row = row_for(data_source, solution_str, ground_truth, extra_info, _known_tasks(eng))
    return _items(await eng.ascore([row]))[0]


def compute_score_batch(
    data_sources: Sequence[Any] | None,
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any] | None,
    extra_infos: Sequence[Mapping[str, Any]] | None,
    *,
    config: Any = None,
    **_: Any,
) -> list[dict[str, Any]]:
    """verl's ``batch`` reward manager form: lists in, one dict per response out, in order."""
    n = len(solution_strs)
    data_sources = list(data_sources) if data_sources is not None else [None] * n
    ground_truths = list(ground_truths) if ground_truths is not None else [None] * n
    extra_infos = list(extra_infos) if extra_infos is not None else [None] * n
    if not (len(data_sources) == len(ground_truths) == len(extra_infos) == n):
        raise ValueError(f"compute_score_batch: {n} responses but {len(data_sources)} data sources, "
                         f"{len(ground_truths)} ground truths and {len(extra_infos)} extra infos")
    eng = engine(config)
    known = _known_tasks(eng)
    rows = [row_for(d, s, g, e, known) for d, s, g, e in zip(data_sources, solution_strs, ground_truths, extra_infos)]
    return score_rows(rows, eng)


def _question(row: Mapping[str, Any]) -> str:
    images = row.get("image")
    n = len(images) if isinstance(images, list) else int(bool(images))
    return "<image>" * n + str(row.get("problem", ""))  # verl's multimodal datasets mark images so


def verl_record(row: Mapping[str, Any], prompt: Any = None, source_prefix: str = "vlmr1") -> dict[str, Any]:
    """One vlmr1 row as a record of verl's RL dataset (parquet): ``data_source``, ``prompt``,
    ``images``, ``ability``, ``reward_model.ground_truth`` and ``extra_info``.

    The ground truth is stored as JSON text when it is not a string, so a parquet column
    can hold boxes and counts side by side (:func:`compute_score` parses it back).
    """
    import json

    task = row.get("task")
    solution = row.get("solution")
    record: dict[str, Any] = {
        "data_source": f"{source_prefix}/{task}" if task else source_prefix,
        "prompt": prompt if prompt is not None else [{"role": "user", "content": _question(row)}],
        "ability": task or "",
        "reward_model": {"style": "rule", "ground_truth": solution if isinstance(solution, str) else json.dumps(solution)},
        "extra_info": {k: row[k] for k in ("id", "task", "image_size", "input_size", "image") if row.get(k) is not None},
    }
    if row.get("image"):
        images = row["image"] if isinstance(row["image"], list) else [row["image"]]
        record["images"] = [{"image": path} for path in images]
    return record
