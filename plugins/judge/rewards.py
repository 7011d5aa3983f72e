"""The ``consistency`` and ``preference`` rewards.

``consistency`` (R1-Reward): a judge model reads the completion's reasoning and final
answer and says whether the one supports the other: +1 supported, -1 not. When no verdict
can be had (judge down, slow, rambling; completion without reasoning) the score is
``fallback_score`` (None by default, so TRL leaves the item out of the group baseline)
and the reason says why.

``preference``: the pairwise reward-model task. The policy answers ``1`` or ``2`` in
``<answer>``; the human label comes from the row's ``solution`` column, or failing that
``label`` or ``preference``. 1.0 if they agree, 0.0 if not, None when the row has no label.

This module imports no network or model code at import time: backends load on first use.
"""

from __future__ import annotations

import time
from typing import Any, Mapping, Sequence

from vlmr1.types import Sample, Verdict

from .parse import extract_answer, parse_choice, parse_verdict

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
    "max_body_bytes": 4 * 1024 * 1024,
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

PAIRWISE_ANSWER_LABELS = {"1": "Response 1 is better", "2": "Response 2 is better"}
LABEL_COLUMNS = ("solution", "label", "preference")


def _fallback(params: Mapping[str, Any], reason: str, answer: Any = None, **details: Any) -> Verdict:
    """No verdict: ``fallback_score`` (None by default) and the reason. Judge failures carry
    ``details["failure"]`` ("timeout" or "error") so the engine counts them in
    ``rewards/<name>/timeouts`` and ``errors``; a completion without reasoning is not a failure."""
    score = params.get("fallback_score")
    if reason == "judge_timeout":
        details = {"failure": "timeout", **details}
    elif reason.startswith("judge_"):
        details = {"failure": "error", **details}
    return Verdict(None if score is None else float(score), reason, answer, details)


async def consistency_ascore(samples: Sequence[Sample], params: Mapping[str, Any]) -> list[Verdict]:
    """Judge every sample within ``deadline_s``; identical (reasoning, answer) pairs once."""
    from .backend import get_backend
    from .cache import cache_key, shared_cache
    from .prompt import PROMPT_VERSION, build_messages, extract_parts, label_answer

    params = {**CONSISTENCY_DEFAULTS, **dict(params)}
    start = time.monotonic()
    deadline = start + float(params["deadline_s"])
    backend = get_backend(params)  # ConfigError for a missing base_url/model: fail loudly, once
    cache = shared_cache(params["cache_path"], int(params["cache_size"])) if params["cache"] else None
    labels = params.get("answer_labels")
    think = tuple(params["think_tags"])
    tags = tuple(params["answer_tags"])

    verdicts: list[Verdict | None] = [None] * len(samples)
    todo: dict[str, list[int]] = {}  # cache key -> sample positions
    pairs: dict[str, tuple[str, str]] = {}
    for i, sample in enumerate(samples):
        parts = extract_parts(sample.completion, think, tags, int(params["max_reasoning_chars"] or 0))
        if parts.reason != "ok":
            verdicts[i] = _fallback(params, parts.reason, parts.answer)
            continue
        answer = label_answer(parts.answer, labels)
        key = cache_key(backend.model_id, PROMPT_VERSION, parts.reasoning, answer)
        hit = cache.get(key) if cache is not None and key not in todo else None
        if hit is not None:
            verdicts[i] = _verdict(hit, parts.answer, cached=True)
            continue
        todo.setdefault(key, []).append(i)
        pairs[key] = (parts.reasoning, answer)

    keys = list(todo)
    replies = await backend.complete_many([build_messages(*pairs[k]) for k in keys], deadline)
    for key, reply in zip(keys, replies):
        positions = todo[key]
        answer = extract_answer(samples[positions[0]].completion, tags)
        if reply.text is None:
            extra = {"error": reply.error} if reply.error else {}
            v = _fallback(params, reply.reason, answer, attempts=reply.attempts, **extra)
        else:
            verdict = parse_verdict(reply.text)
            if verdict is None:
                v = _fallback(params, "judge_unparseable", answer, reply=reply.text[-200:])
            else:
                if cache is not None:
                    cache.put(key, verdict)
                v = _verdict(verdict, answer, attempts=reply.attempts, latency_s=round(reply.latency_s, 3))
        for i in positions:
            verdicts[i] = v
    return [v if v is not None else _fallback(params, "judge_error: internal") for v in verdicts]


def _verdict(verdict: int, answer: Any, **details: Any) -> Verdict:
    if verdict:
        return Verdict(1.0, "supported", answer, details)
    return Verdict(-1.0, "not_supported", answer, details)


def label_of(sample: Sample) -> tuple[int | None, str]:
    """The human preference (1 or 2) of a pairwise row from its first label column that is
    set, with ``"ok"``; or None with ``"no_label"`` / ``"bad_label"``."""
    for column in LABEL_COLUMNS:
        value = sample.get(column)
        if value is not None:
            choice = parse_choice(value)
            return choice, "ok" if choice is not None else "bad_label"
    return None, "no_label"


def preference_score_batch(samples: Sequence[Sample], golds: Sequence[Any], params: Mapping[str, Any]) -> list[Verdict]:
    """1.0 when the completion's choice matches the label, 0.0 when not, None without a label."""
    tags = tuple(params.get("answer_tags") or ("<answer>", "</answer>"))
    out = []
    for sample in samples:
        label, why = label_of(sample)
        if label is None:
            out.append(Verdict(None, why))
            continue
        raw = extract_answer(sample.completion, tags)
        if raw is None:
            out.append(Verdict(0.0, "no_answer"))
            continue
        choice = parse_choice(raw)
        if choice is None:
            out.append(Verdict(0.0, "bad_choice", raw[:40]))
        elif choice == label:
            out.append(Verdict(1.0, "ok", choice))
        else:
            out.append(Verdict(0.0, "wrong", choice))
    return out
