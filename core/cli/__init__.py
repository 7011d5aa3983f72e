"""The ``vlmr1`` command. Each subcommand lives in its own module and is imported
only when it runs, so ``vlmr1 plugins`` never pays for torch or the trainer.
Plugins add subcommands through the ``register_commands`` hook; the built-in
table below is looked up first, the registry's commands next."""

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


def _plugin_commands() -> dict[str, click.Command]:
    """Commands the installed plugins added (built-in names win)."""
    from ..registry import get_registry

    registry = get_registry()
    return {name: registry.command(name) for name in registry.commands if name not in COMMANDS}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *_plugin_commands()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return _plugin_commands().get(name)
        module, attr = target.split(":")
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)

    def resolve_command(self, ctx: click.Context, args: list[str]):  # noqa: ANN201
        name = args[0] if args else ""
        if name and not name.startswith("-") and name not in COMMANDS and name not in _plugin_commands():
            import difflib

            known = [*COMMANDS, *_plugin_commands()]
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
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
