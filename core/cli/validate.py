"""`vlmr1 validate FILE`: check a config, data mixture or JSONL data file."""

from __future__ import annotations

import sys

import click

from ..documents import validate_file


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--kind", type=click.Choice(["config", "mixture", "row"]), help="What the file is (guessed when omitted).")
def validate(file: str, kind: str | None) -> None:
    """Check FILE against vlmr1's schemas; each problem names its line."""
    found, problems = validate_file(file, kind)
    if found == "config" and not problems:
        from ..config import load_config

        load_config(file)  # names, gates and formulas
    for p in problems:
        click.echo(str(p), err=True)
    if problems:
        click.echo(f"{file}: {len(problems)} problem(s) ({found})", err=True)
        sys.exit(1)
    click.echo(f"{file}: valid {found}")
