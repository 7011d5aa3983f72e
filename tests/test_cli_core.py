"""`vlmr1 plugins/rewards/templates/validate`, and that the CLI stays light."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from vlmr1.cli import main


def test_plugins_json_lists_first_party():
    result = CliRunner().invoke(main, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    names = {p["name"]: p for p in data}
    assert {"iou", "json", "math", "judge"} <= set(names)
    assert all(names[n]["ok"] and names[n]["distribution"] == "vlmr1" for n in ("iou", "json", "math", "judge"))


def test_plugins_table():
    result = CliRunner().invoke(main, ["plugins"])
    assert result.exit_code == 0
    assert "iou" in result.stdout and "vlmr1" in result.stdout


def test_listings_are_json_records():
    for cmd in ("rewards", "templates"):
        result = CliRunner().invoke(main, [cmd, "--json"])
        assert result.exit_code == 0, result.output
        for rec in json.loads(result.stdout):
            assert set(rec) >= {"name", "plugin", "distribution", "version", "doc"}


def test_validate_reports_lines(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("rewards:\n  - name: format\n    weight: heavy\n")
    result = CliRunner().invoke(main, ["validate", str(p)])
    assert result.exit_code == 1
    assert f"{p}:3" in result.stderr
    p.write_text("rewards:\n  - name: format\n    weight: 0.5\n")
    result = CliRunner().invoke(main, ["validate", str(p)])
    assert result.exit_code == 0 and "valid config" in result.stdout


def test_unknown_command_suggests():
    result = CliRunner().invoke(main, ["plugin"])
    assert result.exit_code != 0 and "plugins" in result.output


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


HEAVY = {"torch", "transformers", "trl", "shapely", "math_verify", "sympy", "datasets"}


def test_import_vlmr1_is_light():
    assert not HEAVY & _modules_after("import vlmr1")


def test_plugins_command_is_light():
    code = "import io, contextlib\nfrom vlmr1.cli import main\nwith contextlib.redirect_stdout(io.StringIO()):\n    try:\n        main(['plugins', '--json'])\n    except SystemExit:\n        pass"
    assert not HEAVY & _modules_after(code)
