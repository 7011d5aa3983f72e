"""The training sections of a config, typed and checked before anything expensive.

``vlmr1 train`` reads its YAML once (:func:`vlmr1.trainers.configfile.read_train_config`):
the document and its line map, ``--set`` overrides applied, the schema checked, then
:class:`TrainSettings` built from the sections the reward config does not use (``model``, ``data``, ``sft``,
``grpo``, ``stable_reinforce``, ``seed``, ``output_dir``, ``template``). Every unknown key
is an error that names the line it was written on (or the ``--set`` that gave it) and
the nearest known key; ``grpo:`` and ``sft:`` keys are checked against the fields of
``trl.GRPOConfig`` and ``trl.SFTConfig``. All of it runs before a model is loaded, so a
typo costs seconds, not a model load and a warm-up.

Checking the ``grpo:`` and ``sft:`` sections imports trl (and with it torch) to read its
config classes' fields; nothing else here does, and no model is built.
"""

from __future__ import annotations

import difflib
import importlib.util
import math
import types
import typing
from dataclasses import dataclass, field, fields
from typing import Any, Mapping, Sequence

from vlmr1.errors import ConfigError

PathKey = tuple[Any, ...]
# Top-level keys that only training reads; everything else belongs to the reward config.
TRAIN_KEYS = ("model", "data", "grpo", "sft", "stable_reinforce", "seed", "output_dir", "template")


@dataclass(frozen=True)
class Located:
    """Where a value of the config came from: ``file:line``, or the ``--set`` that gave it."""

    source: str = "the config"
    lines: Mapping[PathKey, int] = field(default_factory=dict)
    overridden: frozenset[PathKey] = frozenset()

    def __call__(self, *path: Any) -> str:
        for n in range(len(path), 0, -1):
            if tuple(path[:n]) in self.overridden:
                return f"--set {'.'.join(map(str, path[:n]))}"
        from vlmr1.documents import line_of

        line = line_of(dict(self.lines), path) if self.lines else None
        return f"{self.source}:{line}" if line else self.source


def _nearest(key: Any, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(key), sorted(known), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def _reject_unknown(section: str | PathKey, given: Mapping[str, Any], known: Sequence[str], what: str, at: Located,
                    advice: str = "") -> None:
    """``section`` is a top-level name, or the path of a nested mapping such as ``("model", "sizes")``."""
    within = tuple(section) if isinstance(section, tuple) else ((section,) if section else ())
    for key in given:
        if key not in known:
            path = (*within, key)
            label = f"{'.'.join(map(str, within))}: " if within else ""
            raise ConfigError(f"{at(*path)}: {label}{key!r} is not {what}.{_nearest(key, known)}"
                              + (f" {advice}" if advice else f" Known: {', '.join(sorted(known))}."))


def _section(value: Any, name: str, at: Located) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{at(name)}: `{name}:` must be a mapping of settings, not {type(value).__name__}.")
    return dict(value)


# -- model --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSettings:
    """``model:``: a checkpoint ``path`` (local folder or hub id) or a ``tiny`` model built in code."""

    path: str | None = None
    tiny: str | None = None
    seed: int = 0
    dtype: str = "auto"
    attn_implementation: str | None = None
    sizes: Mapping[str, Any] | None = None  # a tiny model's dimensions (fields of vlmr1.trainers.tiny.TinySizes)

    @classmethod
    def parse(cls, data: Mapping[str, Any] | ModelSettings | None, at: Located = Located()) -> ModelSettings:
        if isinstance(data, ModelSettings):
            return data
        data = _section(data, "model", at)
        _reject_unknown("model", data, [f.name for f in fields(cls)], "a model setting", at)
        model = cls(**data)
        if not model.path and not model.tiny:
            raise ConfigError(f"{at('model')}: model: give `path` (a local directory or hub id) or `tiny` "
                              "(qwen2-vl, qwen2.5-vl, qwen2).")
        if model.path and model.tiny:
            raise ConfigError(f"{at('model', 'tiny')}: model: give `path` or `tiny`, not both.")
        if model.sizes is not None and not model.tiny:
            raise ConfigError(f"{at('model', 'sizes')}: model.sizes applies to a `tiny` model only.")
        if model.sizes is not None:
            tiny_sizes(model.sizes, at)
        return model


def tiny_sizes(values: Any, at: Located = Located()) -> Any:
    """``model.sizes`` as a :class:`vlmr1.trainers.tiny.TinySizes`; the one place these keys are checked,
    so a misspelt size fails while the config is read, naming its line, not after the engine started."""
    from .tiny import TinySizes

    if values is None:
        return TinySizes()
    if not isinstance(values, Mapping):
        raise ConfigError(f"{at('model', 'sizes')}: model.sizes must be a mapping of sizes, "
                          f"not {type(values).__name__}.")
    _reject_unknown(("model", "sizes"), values, [f.name for f in fields(TinySizes)], "a tiny model size", at)
    return TinySizes(**values)


# -- data ---------------------------------------------------------------------------------

SOURCES = ("mixture", "jsonl", "hf", "synthetic")
_DATA_ALIASES = {"image_folder": "image_root", "image_folders": "image_root"}


@dataclass(frozen=True)
class DataSettings:
    """``data:``: exactly one source (see :func:`vlmr1.trainers.data.load_rows`) and how to read it."""

    mixture: str | None = None
    jsonl: str | list[str] | None = None
    hf: Any = None
    synthetic: Mapping[str, Any] | None = None
    image_root: str | list[str] | None = None
    task: str | None = None
    seed: int = 0
    sampling_strategy: str = "all"

    @property
    def source(self) -> str:
        return next(k for k in SOURCES if getattr(self, k))

    @classmethod
    def parse(cls, data: Mapping[str, Any] | DataSettings | None, at: Located = Located()) -> DataSettings:
        from .sampling import Strategy

        if isinstance(data, DataSettings):
            return data
        data = _section(data, "data", at)
        known = [f.name for f in fields(cls)]
        _reject_unknown("data", data, known + list(_DATA_ALIASES), "a data setting", at)
        for alias, name in _DATA_ALIASES.items():
            if alias in data:
                data.setdefault(name, data.pop(alias))
        given = [k for k in SOURCES if data.get(k)]
        if len(given) != 1:
            raise ConfigError(f"{at('data')}: data: give exactly one of {', '.join(SOURCES)} (got {', '.join(given) or 'none'}).")
        settings = cls(**data)
        try:
            Strategy.parse(settings.sampling_strategy)
        except ValueError as exc:
            raise ConfigError(f"{at('data', 'sampling_strategy')}: data: {exc}") from None
        if settings.synthetic is not None:
            from .synthetic import SyntheticSpec

            try:
                SyntheticSpec.from_mapping(settings.synthetic)
            except (ConfigError, TypeError) as exc:
                raise ConfigError(f"{at('data', 'synthetic')}: {exc}") from None
        return settings


# -- sft, grpo: options of TRL's config classes -------------------------------------------


def trl_fields(name: str) -> dict[str, Any]:
    """The fields of ``trl.GRPOConfig`` or ``trl.SFTConfig``, by name, with their types."""
    import trl

    return {f.name: f.type for f in fields(getattr(trl, name))}


def _numeric(kind: Any) -> type | None:
    """float or int when a field takes that number and no string, else None."""
    args = typing.get_args(kind) if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union else (kind,)
    if str in args:
        return None
    return float if float in args else int if int in args and bool not in args else None


def check_trl_options(section: str, user: Mapping[str, Any] | None, config_class: str, at: Located = Located(),
                      own: Sequence[str] = ()) -> dict[str, Any]:
    """``user`` with every key a field of ``trl.<config_class>`` (or one of ``own``).

    Numbers written as text are made numbers (YAML reads ``1e-6`` as a string), a field
    that takes a number and gets other text is an error: both would otherwise fail deep
    inside training, after the model has loaded.
    """
    known = trl_fields(config_class)
    user = dict(user or {})
    _reject_unknown(section, {k: v for k, v in user.items() if k not in own}, list(known), f"a trl.{config_class} option",
                    at, advice=f"Everything under `{section}:` is passed to trl.{config_class}; see its documentation.")
    for key, value in user.items():
        number = _numeric(known.get(key))
        if number is None or not isinstance(value, str):
            continue
        try:
            parsed = float(value)
        except ValueError:
            raise ConfigError(f"{at(section, key)}: {section}: {key!r} takes a number, not {value!r}.") from None
        if number is int and not (math.isfinite(parsed) and parsed.is_integer()):
            raise ConfigError(f"{at(section, key)}: {section}: {key!r} takes a whole number, not {value!r}.")
        user[key] = int(parsed) if number is int else parsed
    return user


# wandb and tensorboard: the integrations transformers reports to, and what to install for them
REPORTERS = {"wandb": (("wandb",), "wandb"), "tensorboard": (("tensorboard", "tensorboardX"), "tensorboard")}


def check_report_to(value: Any, at: str) -> None:
    """Each integration ``report_to`` names is installed (transformers would fail only at trainer build)."""
    names = [value] if isinstance(value, str) else list(value or [])
    for name in names:
        modules, extra = REPORTERS.get(str(name), ((), ""))
        if modules and not any(importlib.util.find_spec(m) is not None for m in modules):
            raise ConfigError(f"{at}: reporting to {name} needs the {modules[0]} package, which is not installed: "
                              f"pip install 'vlmr1[{extra}]' (or pip install {modules[0]}), or report to none.")


@dataclass(frozen=True)
class SftSettings:
    """``sft:``: the supervised warm-up: ``answer`` (the reference-answer column) and trl.SFTConfig options."""

    answer: str = "answer"
    options: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: Mapping[str, Any] | None, at: Located = Located()) -> SftSettings | None:
        data = _section(data, "sft", at)
        if not data:
            return None
        options = check_trl_options("sft", data, "SFTConfig", at, own=("answer",))
        answer = options.pop("answer", "answer")
        return cls(str(answer), options)


# -- stable_reinforce ---------------------------------------------------------------------


@dataclass(frozen=True)
class StableReinforceOptions:
    """The ``stable_reinforce:`` block of a config (R1-Reward; see :mod:`vlmr1.trainers.stable`)."""

    pre_clip: bool = False
    log_ratio_min: float = math.log(1e-3)
    log_ratio_max: float = math.log(1e3)
    advantage_filter: bool = False
    advantage_sigma: float = 3.0

    def __post_init__(self) -> None:
        if not self.log_ratio_min < self.log_ratio_max:
            raise ConfigError(
                f"stable_reinforce: log_ratio_min ({self.log_ratio_min}) must be below log_ratio_max "
                f"({self.log_ratio_max}); the defaults are log(1e-3)={math.log(1e-3):.4f} and log(1e3)={math.log(1e3):.4f}."
            )
        if not self.advantage_sigma > 0:
            raise ConfigError(f"stable_reinforce: advantage_sigma must be positive, got {self.advantage_sigma}.")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> StableReinforceOptions:
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"stable_reinforce: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}."
            )
        return cls(**data)

    @property
    def active(self) -> bool:
        return self.pre_clip or self.advantage_filter


# -- the whole training config ------------------------------------------------------------


@dataclass(frozen=True)
class TrainSettings:
    """Everything a training run reads besides the rewards, checked once.

    ``model`` and ``data`` are None when the config has no such section (a trainer built
    from rows in code needs neither); :meth:`require_run` says what a full run lacks.
    """

    model: ModelSettings | None
    data: DataSettings | None
    grpo: Mapping[str, Any]
    sft: SftSettings | None
    stable_reinforce: StableReinforceOptions
    seed: int | None = None
    output_dir: str | None = None
    template: str | None = None
    at: Located = Located()

    @classmethod
    def from_config(cls, config: Any, at: Located = Located()) -> TrainSettings:
        """The training sections of a :class:`vlmr1.config.Config` (its ``extra``), validated."""
        extra = dict(config.extra)
        _reject_unknown("", {k: v for k, v in extra.items() if k not in TRAIN_KEYS}, [*TRAIN_KEYS, "rewards", "engine", "task"],
                        "a config key", at)
        grpo = check_trl_options("grpo", _section(extra.get("grpo"), "grpo", at), "GRPOConfig", at)
        try:
            stable = StableReinforceOptions.from_mapping(_section(extra.get("stable_reinforce"), "stable_reinforce", at))
        except (ConfigError, TypeError) as exc:
            raise ConfigError(f"{at('stable_reinforce')}: {exc}") from None
        seed = extra.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ConfigError(f"{at('seed')}: seed must be a whole number, not {seed!r}.")
        return cls(
            model=ModelSettings.parse(extra["model"], at) if extra.get("model") is not None else None,
            data=DataSettings.parse(extra["data"], at) if extra.get("data") is not None else None,
            grpo=grpo, sft=SftSettings.parse(extra.get("sft"), at), stable_reinforce=stable, seed=seed,
            output_dir=extra.get("output_dir"), template=extra.get("template") or config.task, at=at,
        )

    def require_run(self) -> tuple[ModelSettings, DataSettings]:
        """The model and data a run needs, and the reporting integrations it names installed;
        a ConfigError naming what is missing."""
        check_report_to(self.grpo.get("report_to"), self.at("grpo", "report_to"))
        if self.sft is not None:
            check_report_to(self.sft.options.get("report_to"), self.at("sft", "report_to"))
        if self.model is None:
            raise ConfigError(f"{self.at()}: no `model:`: give `path` (a local directory or hub id) or `tiny` "
                              "(qwen2-vl, qwen2.5-vl, qwen2).")
        if self.data is None:
            raise ConfigError(f"{self.at()}: no `data:`: give `mixture:` (a VLM-R1 data YAML), `jsonl:`, `hf:` or `synthetic:`.")
        return self.model, self.data
