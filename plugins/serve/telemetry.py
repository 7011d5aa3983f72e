"""The service's Prometheus metrics, in a registry of its own (nothing global)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE_LATEST", "Telemetry"]

_LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Telemetry:
    """Per-reward latency, items, None, errors and timeouts; queue depth, batches, requests."""

    def __init__(self, rewards: Sequence[str], queued_rows: Callable[[], float], inflight: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.latency = Histogram("vlmr1_reward_latency_seconds", "Time one engine batch spent on a reward column.",
                                 ["reward"], registry=r, buckets=_LATENCY_BUCKETS)
        self.items = Counter("vlmr1_reward_items", "Rows scored by a reward column.", ["reward"], registry=r)
        self.none = Counter("vlmr1_reward_none", "Rows a reward gave no score (does not apply, failed).",
                            ["reward"], registry=r)
        self.errors = Counter("vlmr1_reward_errors", "Rows whose scoring failed (raise, crash, memory, bad gold).",
                              ["reward"], registry=r)
        self.timeouts = Counter("vlmr1_reward_timeouts", "Rows that ran past the engine timeout.", ["reward"], registry=r)
        for name in rewards:
            for metric in (self.latency, self.items, self.none, self.errors, self.timeouts):
                metric.labels(reward=name)
        queue = Gauge("vlmr1_queue_rows", "Rows received and waiting for an engine batch.", registry=r)
        queue.set_function(queued_rows)
        batches = Gauge("vlmr1_engine_batches_inflight", "Engine batches being scored now.", registry=r)
        batches.set_function(inflight)
        self.batch_rows = Histogram("vlmr1_engine_batch_rows", "Rows per engine batch.", registry=r,
                                    buckets=(1, 8, 32, 64, 128, 256, 512, 1024, 2048, 4096))
        self.requests = Counter("vlmr1_requests", "HTTP requests by endpoint and status.", ["endpoint", "status"],
                                registry=r)
        self.request_seconds = Histogram("vlmr1_request_seconds", "Time from request to response.", ["endpoint"],
                                         registry=r, buckets=_LATENCY_BUCKETS)

    def batch(self, result: Any, seconds: float) -> None:
        """Count one engine batch."""
        n = len(result.total)
        self.batch_rows.observe(n)
        for name in result.columns:
            m = result.metrics
            latency = m.get(f"rewards/{name}/latency_ms")
            if latency is not None:
                self.latency.labels(reward=name).observe(latency / 1000.0)
            self.items.labels(reward=name).inc(n)
            self.none.labels(reward=name).inc(m.get(f"rewards/{name}/none", 0.0))
            self.errors.labels(reward=name).inc(m.get(f"rewards/{name}/errors", 0.0))
            self.timeouts.labels(reward=name).inc(m.get(f"rewards/{name}/timeouts", 0.0))

    def request(self, endpoint: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint=endpoint, status=str(status)).inc()
        self.request_seconds.labels(endpoint=endpoint).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
