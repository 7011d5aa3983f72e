"""The ``vlmr1`` command. Each subcommand lives in its own module and is imported
only when it runs, so ``vlmr1 plugins`` never pays for torch or the trainer.

Failures the user can act on (vlmr1's own errors, a YAML file that cannot be read, the
operating system refusing a read or a write: disk full, file too large, permission
denied) end every command the same way: one ``Error: ...`` line and exit status 2.
Anything else is a bug and keeps its traceback; ``VLMR1_DEBUG=1`` shows the traceback of
the expected failures too.

Plugins add subcommands through the ``register_commands`` hook; the built-in
table below is looked up first, the registry's commands next. Every command but a
request for help starts by warning about plugins that failed to load (one line each on
stderr), so a broken plugin is never a silent one."""

from __future__ import annotations

import errno
import importlib
import os
import sys

import click

from ..errors import VlmrError

DOCS_URL = "https://vlmr1.dev/docs/"
HELP_OPTIONS = ["-h", "--help"]
_HELP = "vlmr1.help"  # ctx.meta key: the subcommand was asked for its help

# name -> "module:attribute" inside vlmr1.cli
COMMANDS = {
    "plugins": "listing:plugins",
    "rewards": "listing:rewards",
    "verifiers": "listing:verifiers",
    "templates": "listing:templates",
    "validate": "validate:validate",
    "score": "score:score",
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
        ctx.meta[_HELP] = _asks_for_help(args[1:])
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context):  # noqa: ANN201
        try:
            return super().invoke(ctx)
        except Exception as exc:
            if isinstance(exc, BrokenPipeError) and _stdout_gone():  # `vlmr1 rewards | head`: the reader left
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the interpreter's final flush quiet
                sys.exit(1)
            message = expected_failure(exc)
            if message is None or os.environ.get("VLMR1_DEBUG", "") not in ("", "0"):
                raise
            click.echo(f"Error: {message}", err=True)
            sys.exit(2)


def _asks_for_help(args: list[str]) -> bool:
    """Whether a subcommand's arguments ask for its help (before any ``--``)."""
    rest = args[: args.index("--")] if "--" in args else args
    return any(a in HELP_OPTIONS for a in rest)


def warn_plugin_problems() -> None:
    """One ``Warning:`` line on stderr per plugin that failed to load, name conflict, or
    ``VLMR1_PLUGINS`` name that matches nothing installed."""
    from ..registry import get_registry

    for line in get_registry().errors():
        click.echo(f"Warning: {line}", err=True)


def _stdout_gone() -> bool:
    """Whether our standard output is a pipe whose reader has gone (and not some other pipe)."""
    try:
        import select

        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poll.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll, or a stdout without a descriptor
        return False


_OS_HINTS = {
    errno.ENOSPC: "Free some space, or write somewhere else.",
    errno.EDQUOT: "Free some space, or write somewhere else.",
    errno.EFBIG: "The file system or a file-size limit (ulimit -f) refuses a file this large; write somewhere else or raise the limit.",
    errno.EACCES: "Check the permissions, or write somewhere else.",
    errno.EPERM: "Check the permissions, or write somewhere else.",
    errno.EROFS: "Write somewhere else.",
}


def expected_failure(exc: BaseException) -> str | None:
    """The one-line message for a failure the user can act on; None for a bug."""
    if isinstance(exc, VlmrError):
        return str(exc)
    if isinstance(exc, OSError):
        what = exc.strerror or str(exc) or type(exc).__name__
        where = f": {exc.filename}" if exc.filename else ""
        hint = _OS_HINTS.get(exc.errno or 0, "")
        return f"{what}{where}. {hint}".rstrip() + " (VLMR1_DEBUG=1 shows where.)"
    if type(exc).__module__.split(".")[0] == "yaml":  # a YAML file read outside vlmr1's own loader
        return f"not valid YAML: {exc}"
    return None


@click.group(cls=LazyGroup, context_settings={"help_option_names": HELP_OPTIONS},
             epilog=f"Run `vlmr1 COMMAND -h` for a command's options and examples. Docs: {DOCS_URL}")
@click.version_option(package_name="vlmr1")
@click.pass_context
def main(ctx: click.Context) -> None:
    """vlmr1: rewards and verifiers for GRPO training of vision-language models.

    \b
    Examples:
      vlmr1 plugins
      vlmr1 validate rec.yaml
      vlmr1 score --config rec.yaml --input outputs.jsonl --output scored.jsonl
      vlmr1 inspect scored.jsonl

    Shell completion (bash): eval "$(_VLMR1_COMPLETE=bash_source vlmr1)"
    """
    if not ctx.meta.get(_HELP) and not ctx.resilient_parsing:
        warn_plugin_problems()


if __name__ == "__main__":  # pragma: no cover
    main()
