"""The ``serve`` click command. It imports the web stack only when it runs, so
``vlmr1 --help`` and ``vlmr1 plugins`` stay light."""

from __future__ import annotations

import os

import click

TOKEN_ENV = "VLMR1_SERVE_TOKEN"
_STACK = ("starlette", "uvicorn", "prometheus_client")


def missing_stack() -> list[str]:
    """The web packages the service needs that are not installed."""
    import importlib.util

    return [name for name in _STACK if importlib.util.find_spec(name) is None]


@click.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="Reward config (YAML or JSON), as for `vlmr1 score`.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Only this machine can connect unless you say otherwise (0.0.0.0).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--token", envvar=TOKEN_ENV, default=None,
              help=f"Require `Authorization: Bearer TOKEN` on every request but /health (or set {TOKEN_ENV}).")
@click.option("--max-rows", default=4096, show_default=True, type=click.IntRange(1),
              help="Most rows one request may carry (413 above).")
@click.option("--max-body-mb", default=32.0, show_default=True, type=click.FloatRange(0.001),
              help="Largest request body in MiB (413 above).")
@click.option("--batch-rows", default=512, show_default=True, type=click.IntRange(1),
              help="Rows gathered from concurrent requests into one engine batch.")
@click.option("--batch-wait-ms", default=2.0, show_default=True, type=click.FloatRange(0),
              help="How long the first request of a batch waits for others to join.")
@click.option("--max-batches", default=4, show_default=True, type=click.IntRange(1),
              help="Most engine batches scored at once.")
@click.option("--overlap-after", default=0.5, show_default=True, type=click.FloatRange(0),
              help="Seconds an engine batch runs (a slow or hanging item) before the next one starts beside it.")
@click.option("--workers", type=click.IntRange(0), default=None, help="Override engine.workers of the config.")
@click.option("--timeout", type=click.FloatRange(0, min_open=True), default=None,
              help="Override engine.timeout (seconds per item) of the config.")
@click.option("--na-reward", default=0.0, show_default=True, type=float,
              help="/get_reward: the reward of a row no configured reward applies to (OpenRLHF needs a number).")
@click.option("--log-level", default="warning", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def serve(config_path: str, host: str, port: int, token: str | None, max_rows: int, max_body_mb: float,
          batch_rows: int, batch_wait_ms: float, max_batches: int, overlap_after: float, workers: int | None, timeout: float | None,
          na_reward: float, log_level: str) -> None:
    """Serve the configured rewards over HTTP (OpenRLHF's /get_reward, and /score).

    \b
    Examples:
      vlmr1 serve --config rec.yaml
      vlmr1 serve --config rec.yaml --host 0.0.0.0 --port 8000 --token "$VLMR1_SERVE_TOKEN" --workers 8
    """
    missing = missing_stack()
    if missing:
        raise click.ClickException(
            f"`vlmr1 serve` needs {', '.join(missing)}, which come with the `serve` extra: "
            "pip install 'vlmr1[serve]'")
    from vlmr1.config import load_config

    from .app import ServeOptions, run

    config = load_config(config_path).with_engine(workers=workers, timeout=timeout)
    options = ServeOptions(host=host, port=port, token=token or None, max_rows=max_rows,
                           max_body=int(max_body_mb * 1024 * 1024), batch_rows=batch_rows,
                           batch_wait=batch_wait_ms / 1000.0, max_batches=max_batches,
                           overlap_after=overlap_after, na_reward=na_reward,
                           log_level=log_level)
    if host not in ("127.0.0.1", "localhost", "::1") and not options.token:
        click.echo(f"Warning: serving on {host} without a token; anyone who reaches this port can use it. "
                   f"Set --token or {TOKEN_ENV}.", err=True)
    os.environ.pop(TOKEN_ENV, None)  # workers fork from this process: keep the secret out of them
    run(config, options)
