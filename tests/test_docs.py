"""The docs site builds with no warning (broken links, pages missing from the nav), every
relative link in README.md and docs/ resolves, and docs/cli.md covers every command and option."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from vlmr1.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.DOTALL | re.MULTILINE)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"(?<!\!)\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|!\[[^\]\n]*\]\(([^)\s]+)\)")


def test_mkdocs_builds_strict(tmp_path):
    try:
        import mkdocs  # noqa: F401
    except ImportError:
        pytest.fail("mkdocs is not installed: pip install mkdocs (it belongs to vlmr1's dev extra)")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"), "-d", str(tmp_path / "site")],
        capture_output=True, text=True, timeout=240, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "plugin-guide" / "index.html").is_file()


def _markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def _slug(heading: str) -> str:
    """The anchor Python-Markdown's toc extension gives a heading."""
    text = re.sub(r"[`*_]", "", heading).strip().lower()
    text = re.sub(r"[^\w\s-]", "", text)
    return re.sub(r"[\s-]+", "-", text).strip("-")


def _anchors(path: Path) -> set[str]:
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.MULTILINE)}


def relative_links(path: Path) -> list[tuple[str, str]]:
    """(link, problem) for each relative link in ``path`` that does not resolve."""
    text = _INLINE_CODE.sub("", _FENCE.sub("", path.read_text(encoding="utf-8")))
    bad = []
    for m in _LINK.finditer(text):
        target = m.group(1) or m.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            bad.append((target, "no such file"))
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            bad.append((target, f"no heading with anchor #{anchor}"))
    return bad


def test_relative_links_in_readme_and_docs_resolve():
    problems = {str(p.relative_to(ROOT)): bad for p in _markdown_files() if (bad := relative_links(p))}
    assert not problems, problems


def test_the_link_checker_catches_broken_links(tmp_path):
    (tmp_path / "a.md").write_text("# Title here\n\n## Two words\n")
    page = tmp_path / "b.md"
    page.write_text(
        "[ok](a.md) [ok anchor](a.md#two-words) [web](https://example.org/x)\n"
        "[gone](missing.md) [bad anchor](a.md#nope)\n```\n[in code](nowhere.md)\n```\n`[inline](nowhere.md)`\n"
    )
    assert relative_links(page) == [("missing.md", "no such file"), ("a.md#nope", "no heading with anchor #nope")]


def _section(text: str, command: str) -> str:
    m = re.search(rf"^## vlmr1 {re.escape(command)}\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    return m.group(1) if m else ""


def _commands() -> dict[str, click.Command | None]:
    """The built-in commands and those the first-party plugins add (None: module not written yet)."""
    from vlmr1.registry import load_registry

    out: dict[str, click.Command | None] = {}
    for name, target in COMMANDS.items():
        module, attr = target.split(":")
        try:
            out[name] = getattr(importlib.import_module(f"vlmr1.cli.{module}"), attr)
        except ModuleNotFoundError:
            out[name] = None  # a command whose module is not written yet: its section is still checked
    registry = load_registry(allow=set())
    assert not registry.errors(), registry.errors()
    return out | {name: registry.command(name) for name in registry.commands if name not in out}


def test_cli_page_documents_every_command_and_option():
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    missing = []
    for name, command in _commands().items():
        section = _section(text, name)
        if not section:
            missing.append(f"section '## vlmr1 {name}'")
            continue
        if command is None:
            continue
        for param in command.params:
            if isinstance(param, click.Option):
                longs = [o for o in param.opts if o.startswith("--")]
                if longs and not any(f"`{o}`" in section for o in longs):
                    missing.append(f"vlmr1 {name} {longs[0]}")
    assert not missing, "docs/cli.md lacks: " + ", ".join(missing)
