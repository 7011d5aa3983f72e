"""`vlmr1 validate FILE`: check a config, data mixture or JSONL data file."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..documents import load_document, validate_document, validate_file


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--kind", type=click.Choice(["config", "mixture", "row"]), help="What the file is (guessed when omitted).")
def validate(file: str, kind: str | None) -> None:
    """Check FILE against vlmr1's schemas; each problem names its line.

    A config is also checked against the installed plugins, as `score` and `train`
    check it before they start: every reward name resolved, every reward's params
    checked, gates and formulas referring to configured names. Nothing is scored and no
    worker is started. Exit status 1 for problems with the file's structure (each on its
    line), 2 for a config the plugins refuse (one `Error:` line).

    \b
    Examples:
      vlmr1 validate rec.yaml
      vlmr1 validate data/mixture.yaml --kind mixture
      vlmr1 validate outputs.jsonl
    """
    if Path(file).suffix == ".jsonl" or kind == "row":
        found, problems = validate_file(file, kind)
        messages = [str(p) for p in problems]
    else:
        if not Path(file).exists():
            raise click.BadParameter(f"{file}: no such file", param_hint="FILE")
        data, lines = load_document(file)  # read once: the schema check and the config use it
        found, problems = validate_document(data, lines, file, kind)
        messages = [str(p) for p in problems]
        if found == "config" and not problems:
            _check_config(data, lines, file)
    for m in messages:
        click.echo(m, err=True)
    if messages:
        click.echo(f"{file}: {len(messages)} problem(s) ({found})", err=True)
        sys.exit(1)
    click.echo(f"{file}: valid {found}" + (" (reward names and params checked against the installed plugins)" if found == "config" else ""))


def _check_config(data: dict, lines: dict, file: str) -> None:
    """Raise what building the engine would raise (the CLI prints it as one `Error:` line)."""
    from ..config import config_from_dict
    from ..engine import check_config

    check_config(config_from_dict(data, file, lines))
