"""Rewards from a running ``vlmr1 serve``: TRL reward functions and verl's ``compute_score``.

The trainer's processes stay free of worker pools and plugin imports; one service
(on this machine or a CPU box beside the GPU nodes) scores for all of them. Each call
is one HTTP request per batch, retried on connection errors, timeouts, 429 and 5xx
with exponential backoff (and jitter) until ``deadline`` seconds have passed; a 4xx is
the caller's mistake and is raised at once with the service's message. A service
that stays away past the deadline raises :class:`RemoteRewardError`: training stops
with a message rather than learning from made-up zeros.

The URL and token come from the arguments, else ``VLMR1_SERVE_URL`` and
``VLMR1_SERVE_TOKEN``.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import httpx

from .errors import VlmrError
from .rows import row_from_verl, sample_to_row
from .types import Sample

__all__ = ["RemoteResult", "RemoteRewardError", "RewardClient", "compute_score", "compute_score_async",
           "compute_score_batch", "trl_reward_functions"]

URL_ENV = "VLMR1_SERVE_URL"
TOKEN_ENV = "VLMR1_SERVE_TOKEN"
REASON_KEY = "vlmr1_reasons"
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class RemoteRewardError(VlmrError):
    """The reward service refused a request, or did not answer before the deadline."""


@dataclass
class RemoteResult:
    """A /score answer, shaped like :class:`vlmr1.engine.BatchResult` (no verdict objects)."""

    columns: dict[str, list[float | None]]
    reasons: dict[str, list[str]]
    total: list[float | None]
    metrics: dict[str, float] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.total)


@dataclass(frozen=True)
class RetryPolicy:
    timeout: float = 60.0  # one request
    retries: int = 5
    backoff: float = 0.5  # first wait; doubles each retry
    max_backoff: float = 8.0
    deadline: float = 300.0  # all attempts together

    def wait(self, attempt: int) -> float:
        base = min(self.max_backoff, self.backoff * (2 ** attempt))
        return base * (0.5 + random.random() / 2)


def _url(url: str | None) -> str:
    chosen = url or os.environ.get(URL_ENV)
    if not chosen:
        raise RemoteRewardError(f"no reward service URL: pass url=... or set {URL_ENV}=http://host:8000 "
                                "(start one with `vlmr1 serve --config rewards.yaml`)")
    return chosen.rstrip("/")


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", response.text))
    except ValueError:
        return response.text[:500]


class RewardClient:
    """Talks to one ``vlmr1 serve``. Sync and async calls share the retry rules."""

    def __init__(self, url: str | None = None, token: str | None = None, policy: RetryPolicy | None = None) -> None:
        self.url = _url(url)
        token = token if token is not None else os.environ.get(TOKEN_ENV)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.policy = policy or RetryPolicy()
        self._sync: httpx.Client | None = None
        self._async: dict[int, httpx.AsyncClient] = {}  # one per event loop
        self._lock = threading.Lock()

    # -- transport ----------------------------------------------------------------------
    def _decide(self, response: httpx.Response | None, error: Exception | None, path: str, attempt: int,
                started: float) -> float | None:
        """None: done (return the response); a float: wait that long and try again."""
        if response is not None and response.status_code < 400:
            return None
        if response is not None and response.status_code not in _RETRY_STATUS:
            raise RemoteRewardError(f"the reward service at {self.url} refused {path} "
                                    f"(HTTP {response.status_code}): {_message(response)}")
        what = f"HTTP {response.status_code}: {_message(response)}" if response is not None else f"{type(error).__name__}: {error}"
        wait = self.policy.wait(attempt)
        if attempt >= self.policy.retries or time.monotonic() - started + wait > self.policy.deadline:
            raise RemoteRewardError(f"the reward service at {self.url} did not answer {path} after {attempt + 1} "
                                    f"attempts in {time.monotonic() - started:.1f}s (last: {what}). Is `vlmr1 serve` "
                                    f"running there? Check its /health.")
        return wait

    def _timeout(self, started: float) -> float:
        return max(0.1, min(self.policy.timeout, self.policy.deadline - (time.monotonic() - started)))

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """One call with retries; the JSON answer."""
        with self._lock:
            if self._sync is None:
                self._sync = httpx.Client(headers=self.headers)
        started, attempt = time.monotonic(), 0
        while True:
            response, error = None, None
            try:
                response = self._sync.request(method, self.url + path, json=body, timeout=self._timeout(started))
            except httpx.TransportError as exc:
                error = exc
            wait = self._decide(response, error, path, attempt, started)
            if wait is None:
                return response.json()  # type: ignore[union-attr]
            time.sleep(wait)
            attempt += 1

    async def arequest(self, method: str, path: str, body: Any = None) -> Any:
        """The same, on the running event loop."""
        loop = asyncio.get_running_loop()
        client = self._async.get(id(loop))
        if client is None:
            client = self._async[id(loop)] = httpx.AsyncClient(headers=self.headers)
        started, attempt = time.monotonic(), 0
        while True:
            response, error = None, None
            try:
                response = await client.request(method, self.url + path, json=body, timeout=self._timeout(started))
            except httpx.TransportError as exc:
                error = exc
            wait = self._decide(response, error, path, attempt, started)
            if wait is None:
                return response.json()  # type: ignore[union-attr]
            await asyncio.sleep(wait)
            attempt += 1

    # -- scoring ------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """The service's /health: its rewards, weights and known tasks."""
        return self.request("GET", "/health")

    def score(self, rows: Sequence[Sample | Mapping[str, Any]]) -> RemoteResult:
        return _result(self.request("POST", "/score", {"rows": _rows(rows)}), len(rows))

    async def ascore(self, rows: Sequence[Sample | Mapping[str, Any]]) -> RemoteResult:
        return _result(await self.arequest("POST", "/score", {"rows": _rows(rows)}), len(rows))

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
        self._async.clear()  # their loops own them; they close with the loop


def _rows(rows: Sequence[Sample | Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [sample_to_row(r) if isinstance(r, Sample) else dict(r) for r in rows]


def _result(body: Mapping[str, Any], n: int) -> RemoteResult:
    result = RemoteResult(dict(body["rewards"]), dict(body["reasons"]), list(body["total"]),
                          dict(body.get("metrics", {})), dict(body.get("weights", {})))
    if len(result.total) != n:
        raise RemoteRewardError(f"the reward service answered {len(result.total)} rows for {n}")
    return result


# -- TRL -----------------------------------------------------------------------------------
class _RemoteEngine:
    """What :mod:`vlmr1.trl_rewards` needs from an engine, answered by the service."""

    def __init__(self, client: RewardClient) -> None:
        info = client.info()
        self.client = client
        self.names: list[str] = list(info["rewards"])
        self.weights: dict[str, float] = {n: float(w) for n, w in info["weights"].items()}
        self.config = SimpleNamespace(task=None)  # the service applies its config's task

    def column_mode(self, name: str) -> str:
        return "async"  # network I/O: TRL gathers async reward functions concurrently

    def score(self, samples: Sequence[Sample]) -> RemoteResult:
        return self.client.score(samples)

    async def ascore(self, samples: Sequence[Sample]) -> RemoteResult:
        return await self.client.ascore(samples)


def trl_reward_functions(url: str | None = None, token: str | None = None,
                         policy: RetryPolicy | None = None) -> tuple[list[Callable[..., Any]], list[float]]:
    """``(reward_funcs, reward_weights)`` for ``GRPOTrainer``, scored by the service.

    One async function per configured reward, named after it (TRL logs
    ``rewards/<name>/mean``), with per-reward metrics and reasons as with a local
    engine; one request per batch serves them all.
    """
    from .trl import trl_reward_functions

    engine = _RemoteEngine(RewardClient(url, token, policy))
    return trl_reward_functions(None, engine=engine)  # type: ignore[arg-type]


# -- verl ----------------------------------------------------------------------------------
_clients: dict[tuple[str, str | None], tuple[RewardClient, set[str]]] = {}
_clients_lock = threading.Lock()


def _client(url: str | None, token: str | None) -> tuple[RewardClient, set[str]]:
    key = (_url(url), token)
    with _clients_lock:
        if key not in _clients:
            client = RewardClient(*key)
            _clients[key] = (client, set(client.info().get("tasks", ())))
        return _clients[key]


def _items(result: RemoteResult) -> list[dict[str, Any]]:
    from .plain import item_dicts

    return item_dicts(result, total_key="score", missing=None, reasons_key=REASON_KEY)


def compute_score(data_source: Any = None, solution_str: str | None = None, ground_truth: Any = None,
                  extra_info: Mapping[str, Any] | None = None, *, url: str | None = None, token: str | None = None,
                  data_sources: Sequence[Any] | None = None, solution_strs: Sequence[str] | None = None,
                  ground_truths: Sequence[Any] | None = None, extra_infos: Sequence[Mapping[str, Any]] | None = None,
                  **_: Any) -> dict[str, Any] | list[dict[str, Any]]:
    """verl's ``custom_reward_function``, scored by the service (same answers as
    ``vlmr1.trainers.verl.compute_score``: ``score``, one value per reward, None where
    a reward does not apply, and the reasons). Plural keywords score a batch."""
    if solution_strs is not None:
        return compute_score_batch(data_sources, solution_strs, ground_truths, extra_infos, url=url, token=token)
    client, known = _client(url, token)
    return _items(client.score([row_from_verl(data_source, solution_str, ground_truth, extra_info, known)]))[0]


async def compute_score_async(data_source: Any = None, solution_str: str | None = None, ground_truth: Any = None,
                              extra_info: Mapping[str, Any] | None = None, *, url: str | None = None,
                              token: str | None = None, **_: Any) -> dict[str, Any]:
    """:func:`compute_score` for one response as a coroutine (verl's reward-loop managers await it)."""
    client, known = await asyncio.to_thread(_client, url, token)
    row = row_from_verl(data_source, solution_str, ground_truth, extra_info, known)
    return _items(await client.ascore([row]))[0]


def compute_score_batch(data_sources: Sequence[Any] | None, solution_strs: Sequence[str],
                        ground_truths: Sequence[Any] | None, extra_infos: Sequence[Mapping[str, Any]] | None, *,
                        url: str | None = None, token: str | None = None, **_: Any) -> list[dict[str, Any]]:
    """verl's batch form: lists in, one dict per response out, in order; one request."""
    n = len(solution_strs)
    sources = list(data_sources) if data_sources is not None else [None] * n
    truths = list(ground_truths) if ground_truths is not None else [None] * n
    infos = list(extra_infos) if extra_infos is not None else [None] * n
    if not (len(sources) == len(truths) == len(infos) == n):
        raise ValueError(f"compute_score_batch: {n} responses but {len(sources)} data sources, "
                         f"{len(truths)} ground truths and {len(infos)} extra infos")
    client, known = _client(url, token)
    rows = [row_from_verl(d, s, g, e, known) for d, s, g, e in zip(sources, solution_strs, truths, infos)]
    return _items(client.score(rows))
