"""Choosing a judge backend from reward params, and keeping one instance per setting.

Backends are kept per process (keyed by their settings) so that a transformers judge is
loaded once and the running statistics cover the whole run.
"""

from __future__ import annotations

import threading
from typing import Any, Mapping, Protocol, Sequence

from vlmr1.errors import ConfigError

from .client import MAX_BODY_BYTES, BackendStats, Messages, OpenAIChatBackend, OpenAISettings, Reply
from .local import LocalSettings, TransformersBackend


class Backend(Protocol):
    kind: str
    stats: BackendStats

    @property
    def model_id(self) -> str: ...

    async def complete_many(
        self, conversations: Sequence[Messages], deadline: float, temperature: float | None = None
    ) -> list[Reply]: ...


_BACKENDS: dict[Any, Backend] = {}
_LOCK = threading.Lock()


def _num(params: Mapping[str, Any], key: str, kind: type, default: Any, minimum: float | None = None) -> Any:
    value = params.get(key, default)
    if value is None:
        return default
    try:
        value = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"judge param {key!r} must be a {kind.__name__}, got {value!r}.") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"judge param {key!r} must be at least {minimum}, got {value!r}.")
    return value


def settings_from_params(params: Mapping[str, Any]) -> OpenAISettings | LocalSettings:
    """Validated backend settings; a ConfigError names the missing or bad param."""
    kind = params.get("backend") or ("transformers" if params.get("model_path") else "openai")
    if kind == "transformers":
        if not params.get("model_path"):
            raise ConfigError("judge backend 'transformers' needs params.model_path: a local directory with the judge model.")
        return LocalSettings(
            model_path=str(params["model_path"]),
            max_tokens=_num(params, "max_tokens", int, 256, 1),
            temperature=_num(params, "temperature", float, 0.0, 0),
            batch_size=_num(params, "batch_size", int, 8, 1),
            device=params.get("device"),
            dtype=params.get("dtype"),
        )
    if kind != "openai":
        raise ConfigError(f"unknown judge backend {kind!r}: use 'openai' (any OpenAI-compatible server) or 'transformers'.")
    missing = [k for k in ("base_url", "model") if not params.get(k)]
    if missing:
        raise ConfigError(
            f"judge params {', '.join(missing)} missing: set base_url (e.g. http://127.0.0.1:8000/v1) and model "
            "(the name the server serves), or backend: transformers with model_path."
        )
    return OpenAISettings(
        base_url=str(params["base_url"]),
        model=str(params["model"]),
        api_key_env=params.get("api_key_env"),
        timeout_s=_num(params, "timeout_s", float, 20.0, 0.001),
        max_retries=_num(params, "max_retries", int, 2, 0),
        concurrency=_num(params, "concurrency", int, 8, 1),
        temperature=_num(params, "temperature", float, 0.0, 0),
        max_tokens=_num(params, "max_tokens", int, 512, 1),
        backoff_s=_num(params, "backoff_s", float, 0.25, 0),
        max_backoff_s=_num(params, "max_backoff_s", float, 8.0, 0),
        max_body_bytes=_num(params, "max_body_bytes", int, MAX_BODY_BYTES, 1),
    )


def get_backend(params: Mapping[str, Any]) -> Backend:
    settings = settings_from_params(params)
    with _LOCK:
        backend = _BACKENDS.get(settings)
        if backend is None:
            if isinstance(settings, LocalSettings):
                backend = TransformersBackend(settings)
            else:
                backend = OpenAIChatBackend(settings)
            _BACKENDS[settings] = backend
        return backend


def all_stats() -> dict[str, dict[str, int]]:
    """Running totals of every backend used in this process, by model id."""
    with _LOCK:
        return {f"{b.kind}:{b.model_id}": b.stats.as_dict() for b in _BACKENDS.values()}


def reset_backends() -> None:
    with _LOCK:
        _BACKENDS.clear()
