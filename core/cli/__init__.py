"""The ``vlmr1`` command. Each subcommand lives in its own module and is imported
only when it runs, so ``vlmr1 plugins`` never pays for torch or the trainer."""

from __future__ import annotations

import importlib
import sys

import click

from ..errors import VlmrError

# name -> "module:attribute" inside vlmr1.cli
COMMANDS = {
    "plugins": "listing:plugins",
    "rewards": "listing:rewards",
    "verifiers": "listing:verifiers",
    "templates": "listing:templates",
    "validate": "validate:validate",
    "score": "score:score",
    "train": "train:train",
    "demo": "train:demo",
    "vote": "vote:vote",
    "new-plugin": "scaffold:new_plugin",
    "inspect": "inspect:inspect_cmd",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)

    def resolve_command(self, ctx: click.Context, args: list[str]):  # noqa: ANN201
        name = args[0] if args else ""
        if name and not name.startswith("-") and name not in COMMANDS:
            import difflib

            close = difflib.get_close_matches(name, list(COMMANDS), n=1, cutoff=0.5)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            ctx.fail(f"No such command '{name}'.{hint} Run `vlmr1 --help` to list the commands.")
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context):  # noqa: ANN201
        try:
            return super().invoke(ctx)
        except VlmrError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=LazyGroup)
@click.version_option(package_name="vlmr1")
def main() -> None:
    """vlmr1: rewards and verifiers for GRPO training of vision-language models."""


if __name__ == "__main__":  # pragma: no cover
    main()
