"""The synthetic shapes dataset: deterministic, boxes exact to the pixel, counts right,
rows valid, and reference answers that the installed format reward accepts."""

from __future__ import annotations

import json
import random
import re

import numpy as np
import pytest
from PIL import Image
from vlmr1.documents import schema_problems
from vlmr1.errors import ConfigError
from vlmr1.trainers import synthetic
from vlmr1.trainers.synthetic import COLOURS, SyntheticSpec


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    return synthetic.make_rows(SyntheticSpec(n=24, seed=11), tmp_path_factory.mktemp("syn"))


def _pixels(path):
    return np.asarray(Image.open(path).convert("RGB"))


def test_same_seed_same_pictures_other_seed_differs(tmp_path):
    a = synthetic.make_rows(SyntheticSpec(n=6, seed=4), tmp_path / "a")
    b = synthetic.make_rows(SyntheticSpec(n=6, seed=4), tmp_path / "b")
    c = synthetic.make_rows(SyntheticSpec(n=6, seed=5), tmp_path / "c")
    strip = lambda rs: [{k: v for k, v in r.items() if k != "image"} for r in rs]
    assert strip(a) == strip(b) and strip(a) != strip(c)
    for ra, rb in zip(a, b):
        assert np.array_equal(_pixels(ra["image"]), _pixels(rb["image"]))
    written = [json.loads(line) for line in (tmp_path / "a" / "rows.jsonl").read_text().splitlines()]
    assert written == a


def test_rows_are_valid_and_canvases_not_square(rows):
    assert {r["task"] for r in rows} == {"rec", "counting"}
    assert len({r["id"] for r in rows}) == len(rows)
    for r in rows:
        assert schema_problems(r, "row", "synthetic") == []
        w, h = r["image_size"]
        assert w != h and Image.open(r["image"]).size == (w, h)


def test_rec_box_is_exactly_the_target_pixels(rows):
    for r in (r for r in rows if r["task"] == "rec"):
        colour = np.array(COLOURS[r["target"].split()[0]])
        px = _pixels(r["image"])
        x1, y1, x2, y2 = r["solution"]
        inside = (px[y1:y2, x1:x2] == colour).all(-1)
        ys, xs = np.nonzero(inside)
        # the target touches all four edges of its box, and the box holds nothing else
        assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (0, 0, x2 - x1, y2 - y1), r["id"]
        background = (px[y1:y2, x1:x2] == np.array([245, 245, 240])).all(-1)
        assert (inside | background).all(), r["id"]


def test_rec_target_is_unique_in_its_scene():
    spec = SyntheticSpec()
    rng = random.Random(3)
    for _ in range(50):
        scene, target, box = synthetic.rec_scene(rng, spec)
        kinds = [f"{c} {s}" for c, s, _ in scene.shapes]
        assert kinds.count(target) == 1 and scene.shapes[0][2] == box


def test_counting_solution_counts_the_drawn_shapes():
    from scipy import ndimage

    spec = SyntheticSpec()
    rng = random.Random(8)
    for _ in range(30):
        scene, kind, count = synthetic.counting_scene(rng, spec)
        assert count == sum(s == kind for _, s, _ in scene.shapes) >= 1
        px = np.asarray(synthetic.draw(scene))
        ink = ~(px == np.array([245, 245, 240])).all(-1)
        _, blobs = ndimage.label(ink)
        assert blobs == len(scene.shapes)  # shapes never touch, so each is one blob


def _cells_of(box, cell):
    return {(x // cell, y // cell) for x in (box[0], box[2] - 1) for y in (box[1], box[3] - 1)}


@pytest.mark.parametrize("task", ["counting", "rec"])
def test_cell_layout_puts_one_shape_in_each_of_its_cells(tmp_path, task):
    """``cell``: canvases of whole cells (never square), each shape inside one cell and
    clear of its edges, counts between 1 and max_shapes, the count right in the pixels."""
    from scipy import ndimage

    spec = SyntheticSpec(n=40, seed=3, tasks=(task,), cell=28, max_shapes=3, min_side=56, max_side=84,
                         distractors=1 if task == "rec" else None)
    rows = synthetic.make_rows(spec, tmp_path)
    seen = set()
    for r in rows:
        w, h = r["image_size"]
        assert w % 28 == h % 28 == 0 and w != h and {w, h} <= {56, 84}
        px = _pixels(r["image"])
        ink = ~(px == np.array([245, 245, 240])).all(-1)
        labels, blobs = ndimage.label(ink)
        cells = []
        for blob in ndimage.find_objects(labels):
            box = [blob[1].start, blob[0].start, blob[1].stop, blob[0].stop]
            (only,) = _cells_of(box, 28)  # one cell per shape
            cx, cy = only
            assert box[0] >= cx * 28 + 2 and box[2] <= (cx + 1) * 28 - 2 and box[1] >= cy * 28 + 2, (r["id"], box)
            cells.append(only)
        assert len(set(cells)) == len(cells) == blobs  # never two shapes in a cell
        if task == "counting":
            assert blobs == r["solution"], (r["id"], blobs)  # the count drawn is the count stated: no distractors by default
            assert r["solution"] in (1, 2, 3), r["id"]  # max_shapes 3
            seen.add(r["solution"])
        else:
            assert blobs == 2 and _cells_of(r["solution"], 28) <= set(cells)
    assert task == "rec" or seen == {1, 2, 3}


def test_reference_answers_in_each_frame(rows):
    rec = next(r for r in rows if r["task"] == "rec")
    w, h = rec["image_size"]
    row = {**rec, "input_size": [w * 2 // 3, h * 3 // 2]}
    iw, ih = row["input_size"]
    for frame, (sx, sy) in {"original": (1, 1), "input": (iw / w, ih / h), "norm1000": (1000 / w, 1000 / h)}.items():
        text = synthetic.reference_answer(row, frame)
        assert re.fullmatch(r"<think>[^<]+</think><answer>\{.*\}</answer>", text)
        box = json.loads(re.search(r"<answer>(.*)</answer>", text).group(1))["bbox_2d"]
        expect = [rec["solution"][0] * sx, rec["solution"][1] * sy, rec["solution"][2] * sx, rec["solution"][3] * sy]
        assert all(abs(a - b) <= 0.5 for a, b in zip(box, expect)), (frame, box, expect)
    count = next(r for r in rows if r["task"] == "counting")
    assert synthetic.reference_answer(count).endswith(f"<answer>{count['solution']}</answer>")


def test_format_reward_accepts_every_reference_answer(rows):
    from vlmr1.plugins.json.rewards import FORMAT_DEFAULTS, format_score_batch
    from vlmr1.types import Sample

    samples = [Sample(r["answer"], solution=r["solution"], task=r["task"], image_size=tuple(r["image_size"]))
               for r in rows]
    verdicts = format_score_batch(samples, [None] * len(samples), FORMAT_DEFAULTS)
    assert [v.score for v in verdicts] == [1.0] * len(rows), [v.reason for v in verdicts if v.score != 1.0]
    broken = format_score_batch([Sample("the box is [1, 2, 3, 4]", task="rec")], [None], FORMAT_DEFAULTS)
    assert broken[0].score == 0.0


@pytest.mark.parametrize("bad, match", [
    ({"tasks": ["ocr"]}, "tasks"),
    ({"colour": "red"}, "unknown key"),
    ({"answer_frame": "pixels"}, "answer_frame"),
    ({"min_side": 100, "max_side": 90}, "min_side"),
    ({"cell": 8}, "cell"),
    ({"cell": 40, "min_side": 64}, "cell"),
    ({"distractors": -1}, "distractors"),
])
def test_bad_spec_is_a_clear_error(bad, match):
    with pytest.raises(ConfigError, match=match):
        SyntheticSpec.from_mapping(bad)


@pytest.mark.parametrize("kind, frame, family", [("qwen2.5-vl", "input", None), ("qwen2-vl", "norm1000", "qwen2-vl")])
def test_reference_answers_score_full_marks_through_the_engine(tmp_path, kind, frame, family):
    """Rows from load_rows (sizes from the tiny processor) and their reference answers,
    scored by the installed format and iou rewards in the model's own frame."""
    from vlmr1.config import config_from_dict
    from vlmr1.engine import Engine
    from vlmr1.trainers import data, tiny

    rows = data.load_rows({"synthetic": {"n": 16, "seed": 5, "tasks": ["rec"], "answer_frame": frame}},
                          processor=tiny.build_processor(kind), base_dir=tmp_path)
    assert sum(r["image_size"][0] / r["image_size"][1] != pytest.approx(r["input_size"][0] / r["input_size"][1], rel=0.01)
               for r in rows) >= 8  # the resize changes the aspect for most rows
    params = {"model_family": family} if family else {}
    config = config_from_dict({"rewards": [{"name": "format"}, {"name": "iou", "params": params}],
                               "engine": {"workers": 0}})
    with Engine(config) as engine:
        result = engine.score([{**r, "completion": r["answer"]} for r in rows])
        assert result.columns["format"] == [1.0] * len(rows)
        assert min(result.columns["iou"]) > 0.8, result.reasons["iou"]  # only rounding to whole pixels is lost
        wrong = config_from_dict({"rewards": [{"name": "iou", "params": {"frame": "original"}}], "engine": {"workers": 0}})
    with Engine(wrong) as engine:  # the same answers read in the wrong frame score far lower
        assert sum(engine.score([{**r, "completion": r["answer"]} for r in rows]).columns["iou"]) < 0.6 * len(rows)


def test_two_processes_drawing_the_same_folder_leave_it_whole(tmp_path):
    """One process per GPU may draw the same synthetic set at the same time."""
    import subprocess
    import sys

    code = ("import sys; from vlmr1.trainers import synthetic as s; "
            "s.make_rows(s.SyntheticSpec(n=40, seed=9), sys.argv[1])")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)]) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    rows = [json.loads(line) for line in (tmp_path / "rows.jsonl").read_text().splitlines()]
    assert len(rows) == 40 and not list(tmp_path.glob("**/*.tmp"))
    for row in rows:
        with Image.open(row["image"]) as im:
            im.load()
            assert list(im.size) == row["image_size"]
