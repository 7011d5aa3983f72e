"""The ``register_report_views`` hook: a plugin draws its own answers (points, polygons,
labelled detections) in `vlmr1 inspect`'s report and names its own checks; a broken view
costs a note, not the report; and the report's core names no plugin and no reward."""

from __future__ import annotations

import ast
import json
import types
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from vlmr1 import Notice, ReportView, Shape, hookimpl
from vlmr1.cli import main
from vlmr1.registry import load_registry, set_registry
from vlmr1.report import GT_COLOUR, PRED_COLOUR, RAW_COLOUR, build_report
from vlmr1.reportviews import detections

ROOT = Path(__file__).resolve().parents[1]
WHITE = (255, 255, 255)


def _answer(row):
    """The test plugin's answer format: JSON after 'ANSWER:'."""
    return json.loads(row["completion"].split("ANSWER:", 1)[1])


def pts_applies(row):
    return "ANSWER:" in str(row.get("completion"))


def pts_shapes(row, options):
    a = _answer(row)
    return [Shape("point", row["solution"], "gold"), Shape("polygon", [v for p in a["polygon"] for v in p]),
            *detections([(d["label"], d["box"]) for d in a["detections"]]), Shape("point", a["raw"], "as_given")]


def pts_notes(row, options):
    return [f"frame option {options['frame']}; <b>not markup</b>"]


def pts_checks(rows, options):
    n = sum(pts_applies(r) for r in rows)
    return [Notice("Points", f"{n} rows carry points; set `pts_frame` to be sure", "warning", "pts-check")]


def register_report_views(register):
    register(ReportView("pts", applies=pts_applies, shapes=pts_shapes, notes=pts_notes, checks=pts_checks, doc="points"))


def _plugin(**hooks):
    return types.SimpleNamespace(**{name: hookimpl(fn) for name, fn in hooks.items()})


def _scored(tmp_path: Path) -> Path:
    Image.new("RGB", (200, 100), WHITE).save(tmp_path / "white.png")
    answer = {"polygon": [[100, 10], [180, 10], [140, 90]], "detections": [{"label": "cat", "box": [10, 60, 60, 95]}],
              "raw": [150, 50]}
    rows = [
        {"id": "p", "image": "white.png", "image_size": [200, 100], "input_size": [100, 50], "solution": [50, 40],
         "completion": "ANSWER:" + json.dumps(answer), "rewards": {"pts": 0.25}, "reward": 0.25, "reasons": {"pts": "d=3.5"}},
        {"id": "q", "solution": "x", "completion": "plain", "rewards": {"pts": None}, "reward": None, "reasons": {"pts": "skip"}},
    ]
    path = tmp_path / "scored.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_plugin_draws_points_polygons_and_labelled_detections(tmp_path):
    reg = load_registry(allow=set())
    info = reg.add_plugin(_plugin(register_report_views=register_report_views), "pts", "vlmr1-pts", "0.3")
    assert info.ok and info.registered == {"report_view": ["pts"]}
    assert reg.report_views["pts"].provenance.distribution == "vlmr1-pts"
    set_registry(reg)
    result = CliRunner().invoke(main, ["inspect", str(_scored(tmp_path)), "--out", str(tmp_path / "r"), "--frame", "input"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "r"
    original = Image.open(out / "pts_0_original.png").convert("RGB")
    model = Image.open(out / "pts_0_input.png").convert("RGB")
    assert original.size == (200, 100) and model.size == (100, 50)
    # line width 2 (4 for gold): the gold point is a cross 12 px each way, the as-given one 6 px
    assert all(original.getpixel((x, 40)) == GT_COLOUR for x in (40, 45, 55, 60))
    assert all(original.getpixel((x, 10)) == PRED_COLOUR for x in (110, 140, 170))  # the polygon's top edge
    assert all(original.getpixel((10, y)) == PRED_COLOUR for y in (70, 80, 90))  # the detection's left edge
    assert original.getpixel((146, 50)) == RAW_COLOUR and original.getpixel((150, 46)) == RAW_COLOUR
    assert original.getpixel((30, 80)) == WHITE and original.getpixel((140, 30)) == WHITE  # insides untouched
    label = [original.getpixel((x, y)) for x in range(12, 40) for y in range(44, 57)]
    assert sum(p != WHITE for p in label) > 5  # "cat" written above its box
    # the model-input picture: everything halved, nothing "as given"
    assert all(model.getpixel((x, 20)) == GT_COLOUR for x in (20, 30))
    assert model.getpixel((70, 5)) == PRED_COLOUR
    assert RAW_COLOUR not in {c for _, c in model.getcolors(1 << 16)}
    html = (out / "index.html").read_text()
    assert '<p class="warn" id="pts-check"><b>Points.</b> 1 rows carry points; set <code>pts_frame</code> to be sure</p>' in html
    assert "frame option input; &lt;b&gt;not markup&lt;/b&gt;" in html
    assert "ground truth" in html and "prediction as given, no conversion" in html
    assert not (out / "pts_1_original.png").exists()  # the row the view does not apply to: nothing drawn
    listing = json.loads(CliRunner().invoke(main, ["plugins", "--json"]).stdout)
    assert next(p for p in listing if p["name"] == "pts")["registered"] == {"report_view": ["pts"]}


def test_a_broken_view_costs_a_note_not_the_report(tmp_path):
    def boom(row, options=None):
        raise RuntimeError("cannot parse my answers")

    def register(register):
        register(ReportView("bad", applies=pts_applies, shapes=boom, checks=boom))
        register(ReportView("odd", applies=pts_applies, shapes=lambda row, options: ["not a shape"]))

    reg = load_registry(allow=set())
    assert reg.add_plugin(_plugin(register_report_views=register), "bad", "vlmr1-bad", "1").ok
    index = build_report(_scored(tmp_path), tmp_path / "r", views=list(reg.report_views.values()))
    html = index.read_text()
    assert "report view &#x27;bad&#x27; of plugin &#x27;bad&#x27; (vlmr1-bad 1) failed on this row: RuntimeError: cannot parse my answers" in html
    assert "failed on this row: TypeError: shapes returned str, not a vlmr1.Shape" in html
    assert 'class="warn" id="bad-failed"' in html and "failed: RuntimeError: cannot parse my answers" in html
    assert 'id="summary"' in html  # the rest of the page is there


def test_a_view_given_as_module_references_is_imported_on_first_use():
    view = ReportView("lazy", applies="json:loads", shapes="os.path:join")
    assert view.call("applies", "true") is True and view.call("shapes", "a", "b") == "a/b"
    with pytest.raises(ValueError, match="module:attr"):
        ReportView("x", applies="no_colon", shapes="os:sep").call("applies", {})


@pytest.mark.parametrize("make, words", [
    (lambda: Shape("circle", (1, 2)), "kind 'circle'"),
    (lambda: Shape("box", (1, 2, 3)), "needs 4 coordinates"),
    (lambda: Shape("polygon", (1, 2, 3, 4)), "at least 6"),
    (lambda: Shape("point", (1, 2), role="guess"), "role 'guess'"),
    (lambda: Notice("t", "m", level="loud"), "level 'loud'"),
    (lambda: ReportView("two words", applies=bool, shapes=list), "ReportView name"),
])
def test_bad_records_are_refused_with_what_is_wrong(make, words):
    with pytest.raises(ValueError, match=words):
        make()


def test_the_first_party_box_view_is_registered_by_the_iou_plugin():
    view = load_registry(allow=set()).report_views["box"]
    assert view.provenance.plugin == "iou"


def test_the_report_core_names_no_plugin_and_no_reward():
    """core/report*.py import no plugin, read no column by a reward's name, give no plugin advice."""
    for name in ("report.py", "report_html.py", "report_draw.py", "reportviews.py"):
        tree = ast.parse((ROOT / "core" / name).read_text())
        imports = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        imports += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not [m for m in imports if "plugins" in m or "trainers" in m], (name, imports)
        docs = {id(n.body[0].value) for n in ast.walk(tree) if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef))
                and n.body and isinstance(n.body[0], ast.Expr)}
        strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]
        assert not [s for s in strings if "iou" in s.lower()], (name, [s for s in strings if "iou" in s.lower()])
