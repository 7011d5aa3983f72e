"""The reward service: ``vlmr1 serve --config CFG``.

One engine (and one worker pool) scores every request; concurrent requests are
gathered into engine batches. Endpoints: ``POST /score`` (vlmr1 rows), ``POST
/get_reward`` (OpenRLHF's remote reward protocol), ``GET /health``, ``GET /metrics``.
The web stack (starlette, uvicorn, prometheus-client) comes with the ``serve`` extra
and is imported only when the command runs. See docs/serve.md.
"""

from __future__ import annotations

from typing import Any

from vlmr1 import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    from .command import serve

    cli.add_command(serve)
