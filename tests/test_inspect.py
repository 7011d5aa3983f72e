"""`vlmr1 inspect`: the report's numbers, its drawn boxes (checked pixel by pixel), its
escaping of untrusted completions, and how it looks in a real headless browser."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from vlmr1 import report
from vlmr1.cli import main
from vlmr1.frames import to_original
from vlmr1.plugins.iou import report as box
from vlmr1.registry import load_registry
from vlmr1.report import GT_COLOUR, PRED_COLOUR, RAW_COLOUR, ReportError, build_report

ORIG, INPUT = (400, 300), (200, 150)
GOLD = [40, 60, 160, 200]  # original pixels
PRED_INPUT = [110, 20, 170, 80]  # what the model said, in the 200x150 input frame -> [220, 40, 340, 160] original


def _write(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "scored.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _rows(tmp_path: Path) -> list[dict]:
    Image.new("RGB", ORIG, (255, 255, 255)).save(tmp_path / "white.png")
    return [
        {
            "id": "box-1", "task": "rec", "image": "white.png", "image_size": list(ORIG), "input_size": list(INPUT),
            "solution": GOLD, "completion": f'<think>t</think><answer>{{"bbox_2d": {PRED_INPUT}}}</answer>',
            "rewards": {"format": 1.0, "iou": 0.0}, "reward": 0.5, "reasons": {"format": "ok", "iou": "iou=0.00"},
        },
        {
            "id": "xss", "task": "math", "solution": "1", "completion": "<script>alert('x')</script><img src=x onerror=alert(1)>",
            "rewards": {"format": 0.0, "iou": None}, "reward": 0.0, "reasons": {"format": "no_answer_tag", "iou": "skip"},
        },
        {
            "id": "m-2", "task": "math", "solution": "2", "completion": "<answer>2</answer>",
            "rewards": {"format": 1.0, "iou": None}, "reward": 1.0, "reasons": {"format": "ok", "iou": "skip"},
        },
        {
            "id": "box-2", "task": "rec", "image": "missing.png", "image_size": list(ORIG),
            "solution": GOLD, "completion": "<answer>[40, 60, 160, 200]</answer>",
            "rewards": {"format": 1.0, "iou": 0.91}, "reward": 1.41, "reasons": {"format": "ok", "iou": "iou=0.91"},
        },
        {  # right in the input frame, scored against original pixels as given: the VLM-R1 collapse
            "id": "box-3", "task": "rec", "image": "white.png", "image_size": list(ORIG), "input_size": list(INPUT),
            "solution": GOLD, "completion": '<answer>{"bbox_2d": [20, 30, 80, 100]}</answer>',
            "rewards": {"format": 1.0, "iou": 0.08}, "reward": 0.5, "reasons": {"format": "ok", "iou": "iou=0.08"},
        },
    ]


@pytest.fixture()
def built(tmp_path):
    scored = _write(tmp_path, _rows(tmp_path))
    index = build_report(scored, tmp_path / "report", k=2)
    return index, index.read_text(encoding="utf-8")


def _has_colour_along(img: Image.Image, colour, xs, ys) -> bool:
    return all(img.getpixel((x, y)) == colour for x in xs for y in ys)


def test_boxes_are_drawn_in_both_frames_at_the_right_pixels(built):
    index, _ = built
    original = Image.open(index.parent / "box_0_original.png").convert("RGB")
    model = Image.open(index.parent / "box_0_input.png").convert("RGB")
    assert original.size == ORIG and model.size == INPUT
    # original frame: ground truth as given, the prediction scaled by 2 (input -> original)
    assert _has_colour_along(original, GT_COLOUR, [40, 160], range(80, 180, 10))
    assert _has_colour_along(original, GT_COLOUR, range(60, 150, 10), [60, 200])
    assert _has_colour_along(original, PRED_COLOUR, [220, 340], range(50, 150, 10))
    # and the numbers as the model gave them, unconverted, in orange: the wrong-frame picture
    assert _has_colour_along(original, RAW_COLOUR, [110, 170], range(25, 58, 4))  # y 60-63: ground truth on top
    # model-input frame: the prediction as given, the ground truth halved
    assert _has_colour_along(model, PRED_COLOUR, [110, 170], range(30, 70, 5))
    assert _has_colour_along(model, GT_COLOUR, [20, 80], range(40, 90, 5))
    # inside the boxes the image is untouched
    assert original.getpixel((100, 130)) == (255, 255, 255)
    assert model.getpixel((140, 50)) == (255, 255, 255)


def test_completions_are_escaped(built):
    _, text = built
    assert "<script>alert" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text


def test_summary_counts_means_nulls_and_reasons(built, tmp_path):
    _, text = built
    cols = {c.name: c.summary() for c in report.columns_of(_rows(tmp_path))}
    assert cols["iou"]["null"] == 2 and cols["iou"]["mean"] == pytest.approx(0.33)
    assert cols["format"]["mean"] == pytest.approx(0.8)
    assert dict(cols["iou"]["reasons"]) == {"iou=#": 3, "skip": 2}
    assert cols["reward"]["max"] == pytest.approx(1.41)
    assert "0.330" in text and "iou=# &times;3" in text


def test_lowest_and_highest_rows_without_repeats(built, tmp_path):
    _, text = built
    low, high = report.rank(_rows(tmp_path), "reward", 2)
    assert low == [1, 0] and high == [3, 2]
    assert text.index('id="lowest"') < text.index('id="row-2"') < text.index('id="highest"') < text.index('id="row-4"')
    assert report.rank(_rows(tmp_path), "reward", 5) == ([1, 0, 4, 2, 3], [])


def test_frame_check_says_the_boxes_were_compared_in_the_wrong_frame(built, tmp_path):
    _, text = built
    assert 'class="warn" id="frame-check"' in text
    assert "Set the iou reward&#x27;s <code>frame</code> param" in text or "Set the iou reward's <code>frame</code> param" in text
    # rows 0 and 4 need converting: converted IoU 0 and 1; as given 1000 / 19400 and 1600 / 19400
    assert "mean best IoU is 0.500 with predictions converted to original pixels and 0.067" in text
    view = box.box_view(_rows(tmp_path)[4])
    assert view.frame == "input"
    assert view.iou_converted == pytest.approx(1.0) and view.iou_unconverted == pytest.approx(1600 / 19400)
    assert box.box_view(_rows(tmp_path)[4], frame="original").iou_converted == pytest.approx(1600 / 19400)
    assert "IoU converted from frame input: 0.000; IoU of the numbers as given: 0.052" in text  # row 0, shown among the lowest


def test_a_missing_image_is_named_and_boxes_still_drawn(built):
    index, text = built
    assert "image &#x27;missing.png&#x27; not found under" in text and "--image-root" in text
    grey = Image.open(index.parent / "box_3_original.png").convert("RGB")
    assert grey.getpixel((5, 5)) == (128, 128, 128)
    assert grey.getpixel((40, 130)) == GT_COLOUR or grey.getpixel((40, 130)) == PRED_COLOUR


def test_histograms_are_real_pngs(built):
    index, _ = built
    for i in range(3):
        img = Image.open(index.parent / f"hist_{i}.png").convert("RGB")
        assert img.size == (400, 260)
        assert len(img.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 10  # axes, bars and text, not a blank canvas


def test_box_parsing_handles_the_usual_answer_shapes():
    assert box.parse_boxes('{"bbox_2d": [1, 2.5, 3, 4]}') == [(1.0, 2.5, 3.0, 4.0)]
    assert box.parse_boxes("<|box_start|>(10,20),(30,40)<|box_end|>") == [(10.0, 20.0, 30.0, 40.0)]
    assert box.parse_boxes([[1, 2, 3, 4], [5, 6, 7, 8]], solution=True) == [(1.0, 2.0, 3.0, 4.0), (5.0, 6.0, 7.0, 8.0)]
    assert box.parse_boxes("no box here") == []
    assert to_original((100, 100, 500, 500), "norm1000", (640, 480), (640, 480)) == (64.0, 48.0, 320.0, 240.0)


def test_auto_frame_follows_the_iou_rewards_rules(tmp_path):
    # a Qwen2-VL row answers in [0, 1000): auto reads model_family, as the iou reward does
    row = {"image_size": [640, 480], "model_family": "qwen2-vl", "solution": [64, 48, 320, 240],
           "completion": '<answer>{"bbox_2d": [100, 100, 500, 500]}</answer>', "rewards": {}, "reward": None, "reasons": {}}
    view = box.box_view(row)
    assert view.frame == "norm1000" and view.iou_converted == pytest.approx(1.0)
    # frame input without any input size: drawn as given, and the page says why
    row = dict(row, model_family=None)
    view = box.box_view(row, frame="input")
    assert view.frame == "original" and "no_input_size" in view.frame_note


def test_unreadable_files_get_errors_that_say_what_to_do(tmp_path):
    with pytest.raises(ReportError, match="no such file.*vlmr1 score --output"):
        report.read_scored(tmp_path / "nope.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"rewards": {}, "reward": 1, "reasons": {}}\n{oops\n')
    with pytest.raises(ReportError, match=r"bad.jsonl:2: not valid JSON"):
        report.read_scored(bad)
    raw = tmp_path / "raw.jsonl"
    raw.write_text('{"completion": "x"}\n')
    with pytest.raises(ReportError, match=r'raw.jsonl:1: this row has no "rewards" object.*vlmr1 score --config'):
        report.read_scored(raw)


def test_cli_writes_the_report_and_rejects_an_unknown_column(tmp_path):
    scored = _write(tmp_path, _rows(tmp_path))
    result = CliRunner().invoke(main, ["inspect", str(scored), "--top", "1"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "scored_report" / "index.html").is_file()
    result = CliRunner().invoke(main, ["inspect", str(scored), "--by", "iuo", "--out", str(tmp_path / "r2")])
    assert result.exit_code == 2
    assert "Unknown reward column 'iuo'. Did you mean 'iou'?" in result.output


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="needs a headless browser: apt-get install -y chromium")
def test_report_renders_in_a_headless_browser(built, tmp_path):
    index, _ = built
    shot = tmp_path / "shot.png"
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--force-device-scale-factor=1",
         "--window-size=1280,4000", f"--screenshot={shot}", index.resolve().as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    img = Image.open(shot).convert("RGB")
    colours = img.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # text, tables, histograms: not a blank page
    non_white = sum(n for n, c in colours if c != (255, 255, 255))
    assert non_white > 0.05 * img.size[0] * img.size[1]
    found = {c for _, c in colours}
    assert GT_COLOUR in found and PRED_COLOUR in found  # the box panels were loaded and shown unscaled


def test_a_huge_image_is_scaled_down_with_its_boxes(tmp_path):
    row = {"image_size": [3200, 2400], "solution": [400, 600, 1600, 2000], "completion": "<answer>[0, 0, 10, 10]</answer>",
           "rewards": {"iou": 0.0}, "reward": 0.0, "reasons": {}}
    views = list(load_registry(allow=set()).report_views.values())
    [panel] = report.row_panels(row, views, {"frame": "auto"})
    panel = report.draw_panels(panel, row, [tmp_path], tmp_path, "big")
    img = Image.open(tmp_path / panel.files["original"]).convert("RGB")
    assert img.size == (1600, 1200)
    assert _has_colour_along(img, GT_COLOUR, [200, 800], range(320, 980, 40))  # the box halved too


def test_importing_the_report_module_is_light():
    import subprocess
    import sys

    code = "import sys, vlmr1.report, vlmr1.cli.inspect; print([m for m in ('matplotlib', 'PIL', 'torch') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_scored_by_the_real_cli_in_the_wrong_frame_the_report_says_so(tmp_path):
    """`vlmr1 score` with the iou reward told the wrong frame, then `vlmr1 inspect`."""
    Image.new("RGB", ORIG, (255, 255, 255)).save(tmp_path / "white.png")
    rows = [
        {"id": f"r{i}", "task": "rec", "image": "white.png", "image_size": list(ORIG), "input_size": list(INPUT),
         "solution": [40 + 10 * i, 60, 160, 200],
         "completion": f'<think>t</think><answer>{{"bbox_2d": [{20 + 5 * i}, 30, 80, 100]}}</answer>'}
        for i in range(3)
    ]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    runner = CliRunner()
    for frame in ("original", "auto"):
        (tmp_path / f"{frame}.yaml").write_text(
            f"rewards:\n  - {{name: format, weight: 0.5}}\n  - {{name: iou, weight: 1.0, params: {{frame: {frame}}}}}\n"
            "engine: {workers: 1, timeout: 10}\n"
        )
        out = tmp_path / f"scored_{frame}.jsonl"
        result = runner.invoke(main, ["score", "--config", str(tmp_path / f"{frame}.yaml"), "--input", str(tmp_path / "in.jsonl"),
                                      "--output", str(out), "--no-progress"])
        assert result.exit_code == 0, result.output
        result = runner.invoke(main, ["inspect", str(out), "--out", str(tmp_path / f"report_{frame}")])
        assert result.exit_code == 0, result.output
    wrong = (tmp_path / "report_original" / "index.html").read_text()
    right = (tmp_path / "report_auto" / "index.html").read_text()
    scored_wrong = [json.loads(l)["rewards"]["iou"] for l in (tmp_path / "scored_original.jsonl").read_text().splitlines()]
    scored_right = [json.loads(l)["rewards"]["iou"] for l in (tmp_path / "scored_auto.jsonl").read_text().splitlines()]
    assert max(scored_wrong) < 0.2 < 0.9 < min(scored_right)
    # the boxes need converting in both files; only the first reward compared them as given
    assert f"The iou column (mean {sum(scored_wrong) / 3:.3f}) matches the comparison as given: the reward compared boxes in the wrong frame." in wrong
    assert 'class="warn" id="frame-check"' in wrong
    assert f"The iou column (mean {sum(scored_right) / 3:.3f}) matches the converted comparison" in right
    assert 'class="warn"' not in right
    assert (tmp_path / "report_original" / "box_0_original.png").is_file()


def test_input_lines_score_could_not_read_are_listed(tmp_path):
    rows = _rows(tmp_path) + [{"_line": 9, "rewards": {}, "reward": None, "reasons": {"_input": "not valid JSON: <oops>"}}]
    index = build_report(_write(tmp_path, rows), tmp_path / "r")
    text = index.read_text()
    assert '1 input line(s) could not be read' in text and "input line 9: not valid JSON: &lt;oops&gt;" in text
    assert report.columns_of(rows)[-1].values[-1] is None  # counted as a null total, not a crash


def test_mixed_files_get_a_mean_per_task(built):
    _, text = built
    table = text[text.index('id="by-task"'):]
    table = table[: table.index("</table>")]
    # math rows: format 0.0 and 1.0, iou never applies; rec rows: iou 0.0, 0.91, 0.08
    assert '<td>math</td><td class="num">2</td><td class="num">0.500</td><td class="num">null</td>' in table
    assert '<td>rec</td><td class="num">3</td><td class="num">1.000</td><td class="num">0.330</td>' in table
