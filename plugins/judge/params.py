"""The params of the judge rewards and their defaults: plain data, so that registering
the plugin imports none of the implementation (httpx, torch, transformers)."""

from __future__ import annotations

from typing import Any

__all__ = ["ANSWER_JUDGE_DEFAULTS", "BACKEND_PARAMS", "CONSISTENCY_DEFAULTS", "MAX_BODY_BYTES"]

MAX_BODY_BYTES = 4 * 1024 * 1024  # a verdict is a few hundred bytes; 4 MB leaves room for long explanations

CONSISTENCY_DEFAULTS: dict[str, Any] = {
    "backend": None,  # "openai" (default when base_url is set) or "transformers"
    "base_url": None,
    "model": None,
    "api_key_env": None,
    "model_path": None,
    "timeout_s": 20.0,
    "max_retries": 2,
    "concurrency": 8,
    "temperature": 0.0,
    "max_tokens": 512,
    "max_body_bytes": MAX_BODY_BYTES,
    "deadline_s": 30.0,
    "cache": True,
    "cache_path": None,
    "cache_size": 100_000,
    "max_reasoning_chars": 4000,
    "answer_labels": None,
    "fallback_score": None,
    "think_tags": ["<think>", "</think>"],
    "answer_tags": ["<answer>", "</answer>"],
}

# Backend settings without a default here: the backend's own (see backend.settings_from_params).
BACKEND_PARAMS = ("batch_size", "device", "dtype", "backoff_s", "max_backoff_s")

ANSWER_JUDGE_DEFAULTS: dict[str, Any] = {**CONSISTENCY_DEFAULTS, "max_answer_chars": 4000}
