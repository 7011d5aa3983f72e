"""`vlmr1 new-plugin`: names, rendering, and the generated package installed for real.

The slow test does what a plugin author does right after scaffolding: install the
package with pip into a throwaway virtual environment, run the package's own tests
there, and see `vlmr1 plugins` list it.
"""

from __future__ import annotations

import json
import sys
import tomllib

import pytest
from click.testing import CliRunner

import vlmr1
from vlmr1 import scaffold
from vlmr1.cli import main
from vlmr1.scaffold import ScaffoldError, new_plugin, plugin_names, render, suggest_name
from vlmr1.testing import registered


@pytest.mark.parametrize(
    "raw, suggestion",
    [("My-OCR", "my_ocr"), ("3d_boxes", "task_3d_boxes"), ("count objects", "count_objects"), ("a" * 50, "a" * 40), ("", "my_task"), ("class", "class")],
)
def test_bad_names_say_the_rule_and_suggest_one(raw, suggestion):
    with pytest.raises(ScaffoldError) as info:
        plugin_names(raw)
    msg = str(info.value)
    assert f"Plugin name {raw!r} is not valid" in msg
    assert "starts with a lowercase letter" in msg and "digits and underscores" in msg
    assert f"Try `vlmr1 new-plugin {suggestion}`" in msg or raw == "class"
    if raw != "class":
        assert suggest_name(raw) == suggestion
        plugin_names(suggestion)  # the suggestion is itself valid


def test_names_that_repeat_the_prefix_or_take_an_installed_reward_are_refused():
    with pytest.raises(ScaffoldError, match="repeats the prefix.*new-plugin ocr"):
        plugin_names("vlmr1_reward_ocr")
    with pytest.raises(ScaffoldError, match=r"name 'iou' is already registered by iou \(vlmr1 0.1.0\).*new-plugin my_iou"):
        plugin_names("iou", taken={"iou": "iou (vlmr1 0.1.0)"})
    names = plugin_names("ocr_lines")
    assert (names.module, names.dist) == ("vlmr1_reward_ocr_lines", "vlmr1-reward-ocr-lines")


def test_render_refuses_unknown_placeholders():
    assert render("a {{ x }} {{y}}", {"x": "1", "y": "2"}) == "a 1 2"
    with pytest.raises(ScaffoldError, match=r"f.txt: template placeholder \{\{z\}\} has no value"):
        render("{{z}}", {"x": "1"}, "f.txt")


def test_generated_package_is_complete_and_parses(tmp_path):
    root, written = new_plugin("ocr_lines", tmp_path, author='Ann "A" Author', description='Reads "lines" \\ of text.')
    rel = sorted(str(p.relative_to(root)) for p in written)
    assert rel == [".gitignore", "README.md", "pyproject.toml", "src/vlmr1_reward_ocr_lines/__init__.py",
                   "src/vlmr1_reward_ocr_lines/scoring.py", "tests/test_vlmr1_reward_ocr_lines.py"]
    meta = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert meta["name"] == "vlmr1-reward-ocr-lines"
    assert meta["entry-points"]["vlmr1"] == {"ocr_lines": "vlmr1_reward_ocr_lines"}
    assert meta["authors"] == [{"name": 'Ann "A" Author'}] and meta["description"] == 'Reads "lines" \\ of text.'
    for path in written:
        text = path.read_text()
        assert "{{" not in text, path
        if path.suffix == ".py":
            compile(text, str(path), "exec")
    assert "from vlmr1.testing import" in (root / "tests/test_vlmr1_reward_ocr_lines.py").read_text()


def test_generated_plugin_registers_and_its_functions_work(tmp_path, monkeypatch):
    root, _ = new_plugin("ocr_lines", tmp_path)
    monkeypatch.syspath_prepend(str(root / "src"))
    import vlmr1_reward_ocr_lines as plugin

    with registered(plugin) as reg:
        reward = reg.reward("ocr_lines")
        assert reward.compare == "vlmr1_reward_ocr_lines.scoring:compare"
        assert "vlmr1_reward_ocr_lines.scoring" not in sys.modules  # registering imported no scoring code
        gold = reward.resolved().prepare("Hello  World", {})
        sample = vlmr1.Sample("<answer>hello world</answer>")
        assert reward.verify(sample, gold, {"partial": False}).score == 1.0
        assert reward.verify(vlmr1.Sample("no tags"), gold, {"partial": False}).reason == "no_answer"
        assert reward.known_params() == {"partial"} and reward.needs == ("solution",)
        assert reg.template("ocr_lines").answer_kind == "text"
    from vlmr1_reward_ocr_lines import scoring

    assert scoring.token_f1("a b c", "a b d") == pytest.approx(2 / 3, abs=1e-6)
    sys.modules.pop("vlmr1_reward_ocr_lines", None)
    sys.modules.pop("vlmr1_reward_ocr_lines.scoring", None)


def test_never_overwrites_and_the_template_ships_as_package_data(tmp_path):
    new_plugin("abc", tmp_path)
    with pytest.raises(ScaffoldError, match="already exists and is not empty.*--dir"):
        new_plugin("abc", tmp_path)
    names = sorted(p for p, _ in scaffold._walk(scaffold.template_root()))
    assert ("_gitignore.tmpl",) in names and ("src", "__module__", "__init__.py.tmpl") in names
    # that the wheel carries every one of them, nested and dot-named: tests/test_install.py


class _Owner:
    @vlmr1.hookimpl
    def register_prompt_templates(self, register):
        register(vlmr1.PromptTemplate("taken", system="s"))


def test_cli_refuses_a_name_an_installed_plugin_uses(tmp_path):
    with registered(("owner", _Owner())):
        result = CliRunner().invoke(main, ["new-plugin", "taken", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "The name 'taken' is already registered by owner (<test> 0) (as a template)" in result.output
    assert "vlmr1 new-plugin my_taken" in result.output
    assert not (tmp_path / "vlmr1-reward-taken").exists()


def test_cli_prints_the_files_and_next_steps(tmp_path):
    result = CliRunner().invoke(main, ["new-plugin", "shapes", "--dir", str(tmp_path), "--author", "Bo"])
    assert result.exit_code == 0, result.output
    assert "Created" in result.output and "pip install -e ." in result.output and "vlmr1 plugins" in result.output
    assert (tmp_path / "vlmr1-reward-shapes" / "src" / "vlmr1_reward_shapes" / "__init__.py").is_file()
    bad = CliRunner().invoke(main, ["new-plugin", "Bad-Name", "--dir", str(tmp_path)])
    assert bad.exit_code == 2 and "Try `vlmr1 new-plugin bad_name`" in bad.output and "Traceback" not in bad.output


# -- the real thing: pip install into a throwaway venv ----------------------------------
@pytest.mark.slow
def test_scaffold_pip_install_pytest_and_discovery_in_a_fresh_venv(tmp_path):
    """vlmr1 from a wheel (so the template must ship as package data), then as an author would:
    `vlmr1 new-plugin`, `pip install -e`, the package's own pytest, `vlmr1 plugins`, `vlmr1 score`."""
    from venvtools import build_wheels, clean_env, create_venv, vlmr1_source

    wheels = build_wheels([vlmr1_source(tmp_path / "vlmr1-src")], tmp_path / "wheels")
    venv = create_venv(tmp_path / "venv")
    venv.pip_install(wheels["vlmr1"])
    env = clean_env()

    made = venv.run_script("vlmr1", "new-plugin", "ocr_lines", "--dir", str(tmp_path / "work"), env=env)
    assert made.returncode == 0, made.stdout + made.stderr
    root = tmp_path / "work" / "vlmr1-reward-ocr-lines"
    assert (root / ".gitignore").is_file() and (root / "src" / "vlmr1_reward_ocr_lines" / "__init__.py").is_file()

    before = venv.run_script("vlmr1", "plugins", "--json", env=env)
    assert before.returncode == 0, before.stderr
    assert "ocr_lines" not in {p["name"] for p in json.loads(before.stdout)}

    pip = venv.run("-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index", "-e", str(root), env=env)
    assert pip.returncode == 0, pip.stdout + pip.stderr

    tests = venv.run("-m", "pytest", "-q", "-p", "no:cacheprovider", env=env, cwd=root)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "9 passed" in tests.stdout
    # the scoring ran on the venv's own vlmr1 (from the wheel), not this checkout
    where = venv.run("-c", "import vlmr1; print(vlmr1.__file__)", env=env)
    assert str(venv.root) in where.stdout, where.stdout

    listed = venv.run_script("vlmr1", "plugins", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    plugins = {p["name"]: p for p in json.loads(listed.stdout)}
    assert plugins["ocr_lines"]["ok"] and plugins["ocr_lines"]["distribution"] == "vlmr1-reward-ocr-lines"
    assert plugins["ocr_lines"]["registered"] == {"reward": ["ocr_lines"], "template": ["ocr_lines"]}

    # and `vlmr1 score` uses it, with the first-party format reward derived from its template
    (tmp_path / "cfg.yaml").write_text(
        "task: ocr_lines\nrewards:\n  - {name: format, weight: 0.5}\n"
        "  - {name: ocr_lines, weight: 1.0, gate: format, params: {partial: true}}\nengine: {workers: 1, timeout: 10}\n"
    )
    rows = [
        {"id": "a", "completion": "<think>t</think><answer>Hello World</answer>", "solution": "hello world"},
        {"id": "b", "completion": "<think>t</think><answer>hello there</answer>", "solution": "hello world"},
        {"id": "c", "completion": "hello world", "solution": "hello world"},
    ]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    scored = venv.run_script("vlmr1", "score", "--config", str(tmp_path / "cfg.yaml"), "--input", str(tmp_path / "in.jsonl"),
                             "--output", str(tmp_path / "out.jsonl"), "--no-progress", env=env)
    assert scored.returncode == 0, scored.stdout + scored.stderr
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["rewards"]["ocr_lines"] for r in out] == [1.0, 0.5, 0.0]
    assert [r["reward"] for r in out] == [1.5, 1.0, 0.0]
    assert out[2]["reasons"]["format"] != "ok"

    # the allow list keeps it out unless it is named
    off = venv.run_script("vlmr1", "rewards", "--json", env=clean_env(VLMR1_PLUGINS=""))
    assert off.returncode == 0, off.stderr
    assert "ocr_lines" not in {r["name"] for r in json.loads(off.stdout)}
    on = venv.run_script("vlmr1", "rewards", "--json", env=clean_env(VLMR1_PLUGINS="ocr_lines"))
    assert "ocr_lines" in {r["name"] for r in json.loads(on.stdout)}
