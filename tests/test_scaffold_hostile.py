"""`vlmr1 new-plugin` with names and authors that try to break what it writes: every file
it writes parses (tomllib for the TOML, the compiler for the Python), and the text the user
gave comes back out of those parsers unchanged."""

from __future__ import annotations

import ast
import tomllib

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from vlmr1.cli import main
from vlmr1.scaffold import ScaffoldError, new_plugin, plugin_names, toml_string


@pytest.mark.parametrize("raw", ["abc\n", "abc\r", "abc\n\n", "\nabc", "abc\x00", "ab c", "abc\u2028"])
def test_a_name_with_a_line_break_or_control_character_is_refused(raw, tmp_path):
    with pytest.raises(ScaffoldError, match="is not valid"):
        plugin_names(raw)
    result = CliRunner().invoke(main, ["new-plugin", raw, "--dir", str(tmp_path)])
    assert result.exit_code == 2 and result.output.startswith("Error: ") and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def _written(root):
    meta = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    source = (root / "src" / root.name.replace("-", "_") / "__init__.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    doc = ast.get_docstring(tree, clean=False)
    reward_doc = next(n.value.left for n in ast.walk(tree) if isinstance(n, ast.keyword) and n.arg == "doc" and isinstance(n.value, ast.BinOp))
    return meta, doc, ast.literal_eval(reward_doc)


@pytest.mark.parametrize(
    "author, description",
    [("Ann 😀", "Reads 😀 lines"), ('Zoë "Z" \\ O\'Brien', 'A "quoted" \\ back\\slash and \'single\' """triple"""'),
     ("名前 テスト", "説明 \u2028 with a line separator"), ("A\tB", "tab\there"), ("Ünïcödé", "ends with a backslash \\")],
)
def test_authors_and_descriptions_come_back_exactly(tmp_path, author, description):
    root, _ = new_plugin("ocr_lines", tmp_path, author=author, description=description)
    meta, doc, reward_doc = _written(root)
    clean_author, clean_description = " ".join(author.split()), " ".join(description.split())
    assert meta["authors"] == [{"name": clean_author}] and meta["description"] == clean_description
    assert reward_doc == clean_description
    assert doc.split("\n\n", 1)[0] == clean_description


def test_the_cli_writes_an_emoji_author_that_tomllib_reads(tmp_path):
    result = CliRunner().invoke(main, ["new-plugin", "emoji", "--dir", str(tmp_path), "--author", "Ann 😀"])
    assert result.exit_code == 0, result.output
    meta = tomllib.loads((tmp_path / "vlmr1-reward-emoji" / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert meta["authors"] == [{"name": "Ann 😀"}]


@pytest.mark.parametrize("bad", ["\ud800", "A\x00B", "bell\x07", "del\x7f"])
def test_text_that_no_file_can_hold_is_refused_with_a_message(tmp_path, bad):
    with pytest.raises(ScaffoldError, match="--author"):
        new_plugin("ocr_lines", tmp_path, author=bad)
    with pytest.raises(ScaffoldError, match="--description"):
        new_plugin("ocr_lines", tmp_path, description=bad)
    assert list(tmp_path.iterdir()) == []


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=80))
def test_toml_string_round_trips_through_tomllib(text):
    assert tomllib.loads(f"v = {toml_string(text)}")["v"] == text


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=("Cs", "Cc")), max_size=40),
       st.text(alphabet=st.characters(exclude_categories=("Cs", "Cc")), max_size=60))
def test_any_printable_author_and_description_give_parseable_files(tmp_path_factory, author, description):
    root, _ = new_plugin("ocr_lines", tmp_path_factory.mktemp("p"), author=author, description=description)
    meta, _, reward_doc = _written(root)
    assert meta["authors"] == [{"name": " ".join(author.split())}]
    assert reward_doc == (" ".join(description.split()) or "rewards for the ocr_lines task.")
