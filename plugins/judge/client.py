"""OpenAI-compatible chat backend (vLLM, SGLang, TGI, hosted APIs) on httpx.

A training step must not wait on a sick judge. Every batch has a deadline; requests run
concurrently under a semaphore; failures are retried a bounded number of times with
exponential backoff and jitter; a 429's ``Retry-After`` is honoured unless waiting would
pass the deadline. Whatever is unanswered at the deadline is cancelled and comes back as
``judge_timeout``. Nothing here raises for a server's misbehaviour: every conversation
gets a :class:`Reply`, with text or with a reason.

A body is read as a stream and abandoned past ``max_body_bytes`` (counted after
decompression, which is done here with the same bound, so neither an endless stream nor a
gzip bomb can grow the process). A reply the server says it cut off
(``finish_reason: "length"``) is not a reply: its last line may be text the judge was
quoting, so it comes back as ``judge_truncated``.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import httpx

from .params import MAX_BODY_BYTES

Messages = Sequence[Mapping[str, Any]]

RETRYABLE = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
# finish_reason values that mean the text stopped before the judge did (OpenAI, vLLM, SGLang, TGI)
TRUNCATED = frozenset({"length", "max_tokens", "model_length"})
REFUSED = frozenset({"content_filter", "abort", "error"})


@dataclass(frozen=True)
class Reply:
    """One conversation's outcome: the reply text, or None and a machine-readable reason."""

    text: str | None
    reason: str = "ok"
    attempts: int = 0
    latency_s: float = 0.0
    usage: Mapping[str, int] = field(default_factory=dict)
    error: str = ""  # a longer explanation for logs; ``reason`` stays short for counting


@dataclass(frozen=True)
class OpenAISettings:
    base_url: str
    model: str
    api_key_env: str | None = None
    timeout_s: float = 20.0
    max_retries: int = 2
    concurrency: int = 8
    temperature: float = 0.0
    max_tokens: int = 512
    backoff_s: float = 0.25
    max_backoff_s: float = 8.0
    max_body_bytes: int = MAX_BODY_BYTES


@dataclass
class BackendStats:
    """Running totals for one backend; the judge docs explain how to read them."""

    requests: int = 0
    retries: int = 0
    failures: int = 0
    timeouts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


class _Fail(Exception):
    """One attempt failed; ``retry`` says whether another attempt may help."""

    def __init__(self, reason: str, retry: bool, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retry, self.wait = reason, retry, wait


def _reply_text(raw: bytes) -> tuple[str, dict[str, int]]:
    """The first choice's message content, or a _Fail saying what was wrong with the body."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise _Fail("judge_error: malformed_json", retry=True) from None
    if not isinstance(body, dict):
        raise _Fail("judge_error: malformed_json", retry=True)
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        raise _Fail("judge_error: empty_choices", retry=True)
    first = choices[0] if isinstance(choices[0], dict) else {}
    finish = first.get("finish_reason")
    if finish in TRUNCATED:  # deterministic at temperature 0: a retry would be cut off again
        raise _Fail("judge_truncated", retry=False)
    if finish in REFUSED:  # a filter says the same again; an aborted request may go through next time
        raise _Fail(f"judge_error: {finish}", retry=finish != "content_filter")
    message = first.get("message") if isinstance(first.get("message"), dict) else {}
    text = message.get("content")
    if text is None:
        text = first.get("text")  # completions-style servers
    if not isinstance(text, str):
        raise _Fail("judge_error: no_content", retry=True)
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    clean = {k: int(v) for k, v in usage.items() if k in ("prompt_tokens", "completion_tokens") and isinstance(v, int)}
    return text, clean


def _too_large() -> _Fail:
    return _Fail("judge_error: body too large", retry=False)


async def read_capped(response: httpx.Response, cap: int) -> bytes:
    """The decoded body, read chunk by chunk; a _Fail as soon as it would pass ``cap`` bytes.

    httpx would inflate a gzip chunk without a bound, so the raw stream is read and
    inflated here with ``max_length``.
    """
    declared = response.headers.get("content-length", "")
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if declared.isdigit() and int(declared) > cap:  # compressed or not, more than the cap will arrive
        raise _too_large()
    if encoding in ("", "identity"):
        inflate = None
    elif encoding in ("gzip", "x-gzip", "deflate"):
        inflate = zlib.decompressobj(32 + zlib.MAX_WBITS)  # gzip or zlib header, detected
    else:
        raise _Fail(f"judge_error: unsupported content-encoding {encoding[:20]}", retry=False)
    out = bytearray()
    received = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received > cap:  # even compressed, this is more than a reply can be
            raise _too_large()
        if inflate is not None:
            try:
                chunk = inflate.decompress(chunk, cap + 1 - len(out))
            except zlib.error:
                raise _Fail("judge_error: malformed_body", retry=True) from None
        out += chunk
        if len(out) > cap:
            raise _too_large()
    return bytes(out)


class OpenAIChatBackend:
    """Sends chat conversations to ``{base_url}/chat/completions``."""

    kind = "openai"

    def __init__(self, settings: OpenAISettings) -> None:
        self.settings = settings
        self.stats = BackendStats()

    @property
    def model_id(self) -> str:
        return self.settings.model

    def _headers(self) -> dict[str, str]:
        env = self.settings.api_key_env
        key = os.environ.get(env, "") if env else ""
        return {"Authorization": f"Bearer {key}"} if key else {}

    async def complete_many(
        self,
        conversations: Sequence[Messages],
        deadline: float,
        temperature: float | None = None,
    ) -> list[Reply]:
        """One reply per conversation, all by ``deadline`` (a ``time.monotonic()`` instant)."""
        if not conversations:
            return []
        s = self.settings
        limits = httpx.Limits(max_connections=max(1, s.concurrency), max_keepalive_connections=max(1, s.concurrency))
        url = s.base_url.rstrip("/") + "/chat/completions"
        sem = asyncio.Semaphore(max(1, s.concurrency))
        temp = s.temperature if temperature is None else temperature
        headers = {**self._headers(), "Accept-Encoding": "gzip, deflate"}  # only what read_capped can bound
        async with httpx.AsyncClient(limits=limits, headers=headers, trust_env=False) as client:
            tasks = [
                asyncio.ensure_future(self._one(client, sem, url, list(conv), temp, deadline))
                for conv in conversations
            ]
            try:
                done, pending = await asyncio.wait(tasks, timeout=max(0.0, deadline - time.monotonic()))
            finally:  # also when the caller cancels us: leave no request running
                for task in tasks:
                    if not task.done():
                        task.cancel()
                await asyncio.wait(tasks, timeout=1.0)
        replies = []
        for task in tasks:
            if task in done and not task.cancelled() and task.exception() is None:
                replies.append(task.result())
            elif task in done and not task.cancelled():
                self.stats.failures += 1
                exc = task.exception()
                replies.append(Reply(None, f"judge_error: {type(exc).__name__}", error=str(exc)[:300]))
            else:
                self.stats.timeouts += 1
                replies.append(Reply(None, "judge_timeout"))
        return replies

    async def _one(
        self,
        client: httpx.AsyncClient,
        sem: asyncio.Semaphore,
        url: str,
        messages: list[Mapping[str, Any]],
        temperature: float,
        deadline: float,
    ) -> Reply:
        s = self.settings
        body = {"model": s.model, "messages": messages, "temperature": temperature, "max_tokens": s.max_tokens}
        start = time.monotonic()
        reason = "judge_timeout"
        for attempt in range(max(0, s.max_retries) + 1):
            async with sem:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.stats.requests += 1
                if attempt:
                    self.stats.retries += 1
                try:
                    text, usage = await self._attempt(client, url, body, min(s.timeout_s, remaining))
                except _Fail as fail:
                    reason, retry, wait = fail.reason, fail.retry, fail.wait
                else:
                    self.stats.prompt_tokens += usage.get("prompt_tokens", 0)
                    self.stats.completion_tokens += usage.get("completion_tokens", 0)
                    return Reply(text, "ok", attempt + 1, time.monotonic() - start, usage)
            if not retry or attempt == s.max_retries:
                break
            if wait is None:
                wait = min(s.max_backoff_s, s.backoff_s * 2**attempt) * (0.5 + random.random())
            if time.monotonic() + wait >= deadline:
                break  # waiting would pass the deadline: report the last failure now
            await asyncio.sleep(wait)
        self.stats.failures += 1
        if reason == "judge_timeout":
            self.stats.timeouts += 1
        return Reply(None, reason, attempt + 1, time.monotonic() - start)

    async def _attempt(self, client: httpx.AsyncClient, url: str, body: dict, timeout: float) -> tuple[str, dict[str, int]]:
        try:
            async with client.stream("POST", url, json=body, timeout=httpx.Timeout(timeout)) as response:
                status = response.status_code
                if status == 429:
                    raise _Fail("judge_error: 429", retry=True, wait=retry_after_seconds(response.headers.get("retry-after")))
                if status != 200:
                    raise _Fail(f"judge_error: {status}", retry=status in RETRYABLE)
                raw = await read_capped(response, self.settings.max_body_bytes)
        except httpx.TimeoutException:
            raise _Fail("judge_timeout", retry=True) from None
        except httpx.TransportError as exc:
            raise _Fail(f"judge_error: {_transport_reason(exc)}", retry=True) from None
        return _reply_text(raw)


def _transport_reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connect"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "protocol"
    return type(exc).__name__
