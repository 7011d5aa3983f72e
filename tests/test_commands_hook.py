"""The ``register_commands`` hook: a plugin adds a ``vlmr1`` subcommand, the CLI lists and
runs it, provenance and conflicts are kept as for rewards, and a failing hook is reported."""

from __future__ import annotations

import json
import types

import click
from click.testing import CliRunner

from vlmr1 import hookimpl
from vlmr1.cli import main
from vlmr1.registry import load_registry, set_registry


def _plugin(**hooks):
    return types.SimpleNamespace(**{name: hookimpl(fn) for name, fn in hooks.items()})


def _greeter(word):
    def register_commands(cli):
        @cli.command(name="greet")
        @click.argument("who")
        def greet(who):
            """Say hello."""
            click.echo(f"{word}, {who}")

    return register_commands


def test_plugin_command_is_listed_and_runs():
    reg = load_registry(allow=set())
    info = reg.add_plugin(_plugin(register_commands=_greeter("hello")), "greeter", "vlmr1-greeter", "1.2")
    assert info.ok and info.registered == {"command": ["greet"]}
    assert reg.commands["greet"].provenance.distribution == "vlmr1-greeter"
    set_registry(reg)
    result = CliRunner().invoke(main, ["greet", "world"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "hello, world"
    listing = CliRunner().invoke(main, ["--help"])
    assert "greet" in listing.output and "Say hello." in listing.output
    plugins = json.loads(CliRunner().invoke(main, ["plugins", "--json"]).stdout)
    assert next(p for p in plugins if p["name"] == "greeter")["registered"] == {"command": ["greet"]}


def test_builtin_names_win_and_unknown_names_suggest_plugin_commands():
    def register_commands(cli):
        @cli.command(name="score")
        def fake_score():
            click.echo("not the real score")

        @cli.command(name="greet")
        def greet():
            click.echo("hi")

    reg = load_registry(allow=set())
    reg.add_plugin(_plugin(register_commands=register_commands), "shadow")
    set_registry(reg)
    result = CliRunner().invoke(main, ["score", "--help"])
    assert "not the real score" not in result.output and "--config" in result.output
    result = CliRunner().invoke(main, ["gret"])
    assert result.exit_code != 0 and "Did you mean 'greet'?" in result.output


def test_two_plugins_with_one_command_name_is_a_named_conflict():
    reg = load_registry(allow=set())
    reg.add_plugin(_plugin(register_commands=_greeter("hello")), "a", "vlmr1-a", "1")
    reg.add_plugin(_plugin(register_commands=_greeter("hi")), "b", "vlmr1-b", "2")
    assert "greet" not in reg.commands
    assert any("command 'greet'" in e and "vlmr1-a" in e and "vlmr1-b" in e for e in reg.errors())
    set_registry(reg)
    result = CliRunner().invoke(main, ["greet", "x"])
    assert result.exit_code != 0 and "No such command 'greet'" in result.output


def test_a_raising_hook_marks_the_plugin_failed_and_the_cli_still_works():
    def register_commands(cli):
        raise RuntimeError("no commands today")

    reg = load_registry(allow=set())
    info = reg.add_plugin(_plugin(register_commands=register_commands), "broken")
    assert not info.ok and "register_commands raised RuntimeError" in info.error
    set_registry(reg)
    assert CliRunner().invoke(main, ["rewards", "--json"]).exit_code == 0
