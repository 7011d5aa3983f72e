"""The HTTP application (starlette) and its server (uvicorn).

uvicorn gives what a reward service beside a training job needs without code of ours:
on SIGTERM it stops accepting, lets in-flight requests finish (up to a grace period),
then runs the shutdown that stops the engine's workers. The engine is built before
the port opens, so ``/health`` answers 200 only when scoring can start at once.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vlmr1.config import Config
from vlmr1.engine import Engine
from vlmr1.rows import known_tasks

from .batcher import Batcher
from .protocol import RequestError, openrlhf_body, openrlhf_rows, score_body, score_rows
from .telemetry import CONTENT_TYPE_LATEST, Telemetry

__all__ = ["ServeOptions", "build_app", "run"]


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    max_rows: int = 4096
    max_body: int = 32 * 1024 * 1024
    batch_rows: int = 512
    batch_wait: float = 0.002
    max_batches: int = 4
    overlap_after: float = 0.5
    na_reward: float = 0.0
    log_level: str = "warning"
    grace: float | None = None  # seconds in-flight requests get on SIGTERM; engine timeout + 5 by default


class _State:
    def __init__(self, engine: Engine, options: ServeOptions) -> None:
        self.options = options
        self.engine = engine
        self.batcher: Batcher | None = None
        self.telemetry: Telemetry | None = None
        self.ready = False


async def _read_json(request: Request, max_body: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise RequestError(400, "bad Content-Length header") from None
        if size > max_body:
            raise RequestError(413, f"request body of {size} bytes; this service takes at most {max_body} "
                                    f"(send smaller batches, or start it with a larger --max-body-mb)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_body:
            raise RequestError(413, f"request body over {max_body} bytes; send smaller batches, "
                                    f"or start the service with a larger --max-body-mb")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(400, f"the request body is not JSON: {exc}") from None


def _authorized(request: Request, token: str | None) -> bool:
    if token is None:
        return True
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # compare_digest takes the same time wherever the strings differ
    return hmac.compare_digest(given.strip().encode(), token.encode()) and scheme.lower() == "bearer"


def _endpoint(state: _State, name: str, handler: Callable[[Request], Awaitable[Response]]) -> Callable[..., Any]:
    async def endpoint(request: Request) -> Response:
        start = time.perf_counter()
        try:
            if not _authorized(request, state.options.token):
                response: Response = JSONResponse({"error": "missing or wrong bearer token"}, status_code=401,
                                                  headers={"WWW-Authenticate": "Bearer"})
            elif not state.ready:
                response = JSONResponse({"error": "the service is starting or stopping"}, status_code=503)
            else:
                response = await handler(request)
        except RequestError as exc:
            response = JSONResponse({"error": exc.message}, status_code=exc.status)
        except Exception as exc:  # noqa: BLE001 - the client hears what went wrong; the service goes on
            response = JSONResponse({"error": f"{type(exc).__name__}: {exc}"}, status_code=500)
        if state.telemetry is not None:
            state.telemetry.request(name, response.status_code, time.perf_counter() - start)
        return response

    return endpoint


def build_app(engine: Engine, options: ServeOptions) -> Starlette:
    """The service as an ASGI app around a built engine; the app's shutdown closes it."""
    state = _State(engine, options)
    config = engine.config

    async def score(request: Request) -> Response:
        rows = score_rows(await _read_json(request, options.max_body), options.max_rows, config.task)
        result = await state.batcher.score(rows.samples)  # type: ignore[union-attr]
        return JSONResponse(score_body(rows, result, state.engine.weights))  # type: ignore[union-attr]

    async def get_reward(request: Request) -> Response:
        rows = openrlhf_rows(await _read_json(request, options.max_body), options.max_rows, config.task)
        result = await state.batcher.score(rows.samples)  # type: ignore[union-attr]
        return JSONResponse(openrlhf_body(rows, result, options.na_reward))

    async def health(request: Request) -> Response:
        if not state.ready:
            return JSONResponse({"status": "unavailable"}, status_code=503)
        engine = state.engine
        return JSONResponse({"status": "ok", "rewards": engine.names, "weights": engine.weights,  # type: ignore[union-attr]
                             "tasks": sorted(known_tasks(engine))})

    async def metrics(request: Request) -> Response:
        return Response(state.telemetry.exposition(), media_type=CONTENT_TYPE_LATEST)  # type: ignore[union-attr]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.batcher = Batcher(engine, options.batch_rows, options.batch_wait, options.max_batches,
                                overlap_after=options.overlap_after)
        state.telemetry = Telemetry(engine.names, lambda: state.batcher.queued_rows, lambda: state.batcher.inflight)
        state.batcher.on_batch = state.telemetry.batch
        state.batcher.start()
        state.ready = True
        print(f"vlmr1 serve: ready on http://{options.host}:{options.port} "
              f"(rewards: {', '.join(engine.names)}; workers: {config.engine.workers})", file=sys.stderr, flush=True)
        try:
            yield
        finally:
            state.ready = False
            await state.batcher.close()
            engine.close()
            print("vlmr1 serve: stopped", file=sys.stderr, flush=True)

    routes = [
        Route("/score", _endpoint(state, "score", score), methods=["POST"]),
        Route("/get_reward", _endpoint(state, "get_reward", get_reward), methods=["POST"]),
        Route("/metrics", _endpoint(state, "metrics", metrics), methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def run(config: Config, options: ServeOptions, registry: Any = None) -> None:
    """Serve until SIGTERM or Ctrl-C; in-flight requests finish first."""
    import uvicorn

    grace = options.grace if options.grace is not None else config.engine.timeout + 5.0
    engine = Engine(config, registry=registry)  # a config error stops here, before the port opens
    if not engine.pool.inline:
        engine.pool.start()  # workers fork now, not under the first request
    server = uvicorn.Server(uvicorn.Config(build_app(engine, options), host=options.host, port=options.port,
                                           log_level=options.log_level, access_log=False, lifespan="on",
                                           timeout_graceful_shutdown=grace))
    try:
        server.run()
    finally:
        engine.close()
