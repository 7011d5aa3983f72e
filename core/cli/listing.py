"""`vlmr1 plugins`, `rewards`, `verifiers`, `templates`: what is installed."""

from __future__ import annotations

import json
from typing import Any

import click

from ..registry import get_registry


def _first_line(doc: str) -> str:
    return (doc or "").strip().splitlines()[0] if (doc or "").strip() else ""


def _table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for c in columns:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*r)
    Console().print(table)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins(as_json: bool) -> None:
    """List installed plugins: distribution, version and what each registers.

    A plugin that failed to load is listed as FAILED with its error.

    \b
    Examples:
      vlmr1 plugins
      vlmr1 plugins --json
      VLMR1_PLUGINS=ocr vlmr1 plugins    # third-party plugins: only ocr
    """
    registry = get_registry()
    if as_json:
        click.echo(json.dumps([p.as_dict() for p in registry.plugins], indent=2))
    else:
        rows = []
        for p in registry.plugins:
            what = "; ".join(f"{k}s: {', '.join(v)}" for k, v in p.registered.items())
            rows.append([p.name, p.distribution, p.version, "ok" if p.ok else "FAILED", what or (p.error or "")])
        _table("vlmr1 plugins", ["plugin", "distribution", "version", "status", "registers"], rows)


def _listing(kind: str, as_json: bool) -> None:
    registry = get_registry()
    items = registry.items[kind]
    records = [
        {
            "name": name,
            "plugin": item.provenance.plugin if item.provenance else None,
            "distribution": item.provenance.distribution if item.provenance else None,
            "version": item.provenance.version if item.provenance else None,
            "doc": _first_line(item.doc),
        }
        | _extra(kind, item)
        for name, item in sorted(items.items())
    ]
    if as_json:
        click.echo(json.dumps(records, indent=2))
    else:
        _table(f"vlmr1 {kind}s", ["name", "plugin", "doc"], [[r["name"], r["plugin"] or "", r["doc"]] for r in records])


def _extra(kind: str, item: Any) -> dict[str, Any]:
    if kind == "reward":
        mode = "async" if item.is_async else ("inline" if item.cheap else "isolated")
        return {"mode": mode, "tasks": sorted(item.tasks) if item.tasks else None}
    if kind == "template":
        return {"answer_kind": item.answer_kind}
    return {}


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def rewards(as_json: bool) -> None:
    """List registered rewards with their plugin and one-line doc.

    \b
    Examples:
      vlmr1 rewards
      vlmr1 rewards --json    # also how each runs (inline, isolated, async) and its tasks
    """
    _listing("reward", as_json)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def verifiers(as_json: bool) -> None:
    """List registered verifiers with their plugin and one-line doc.

    \b
    Examples:
      vlmr1 verifiers
      vlmr1 verifiers --json
    """
    _listing("verifier", as_json)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def templates(as_json: bool) -> None:
    """List registered prompt templates with their plugin and one-line doc.

    \b
    Examples:
      vlmr1 templates
      vlmr1 templates --json    # also each template's answer kind
    """
    _listing("template", as_json)
