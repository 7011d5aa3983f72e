"""Coordinate frames: smart_resize against transformers, frame resolution, and the same
physical box scoring 1.0 in every frame of an image whose resize changes its aspect."""

from __future__ import annotations

import pytest
from vlmr1.frames import Frames, resolve_frames, smart_resize
from vlmr1.plugins.iou.reward import prepare_gold, score_batch
from vlmr1.types import Sample

# A 1000x300 image through a processor with patch 16, merge 2, 1024..204800 pixels
# becomes 800x224 (checked against the real processor below): x scales by 0.8, y by
# 0.7467, so the aspect changes.
SIZE, PROC = (1000, 300), {"patch_size": 16, "merge_size": 2, "min_pixels": 1024, "max_pixels": 204800}
INPUT = (800, 224)
GOLD = [100, 75, 400, 225]  # original pixels
SAME_BOX = {
    "original": [100, 75, 400, 225],
    "input": [80, 56, 320, 168],
    "norm1000": [100, 250, 400, 750],
    "norm1": [0.1, 0.25, 0.4, 0.75],
}


def test_smart_resize_matches_transformers():
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        smart_resize as reference,
    )

    for patch, merge in ((14, 2), (16, 2), (14, 1), (8, 4)):
        factor = patch * merge
        for w in (28, 57, 300, 333, 640, 1000, 1919, 4032):
            for h in (28, 99, 300, 480, 1080, 3024):
                for lo, hi in ((56 * 56, 28 * 28 * 1280), (factor * factor * 4, factor * factor * 64), (3136, 12845056)):
                    if max(w, h) / min(w, h) > 200:
                        continue
                    rh, rw = reference(h, w, factor=factor, min_pixels=lo, max_pixels=hi)
                    assert smart_resize(w, h, patch, merge, lo, hi) == (rw, rh), (w, h, patch, merge, lo, hi)


def test_smart_resize_rejects_extreme_aspect():
    with pytest.raises(ValueError, match="aspect ratio"):
        smart_resize(10_000, 20, 14)


def test_input_size_matches_the_real_processor_grid():
    """The size we compute is the size the processor really produces (image_grid_thw)."""
    import numpy as np
    from PIL import Image
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil,
    )

    proc = Qwen2VLImageProcessorPil(**PROC)
    for w, h in (SIZE, (640, 480), (333, 777), (1920, 1080)):
        grid = proc(images=[Image.fromarray(np.zeros((h, w, 3), dtype=np.uint8))], return_tensors="np")["image_grid_thw"][0]
        assert smart_resize(w, h, **PROC) == (int(grid[2]) * 16, int(grid[1]) * 16)
    assert smart_resize(*SIZE, **PROC) == INPUT


def _frames(sample, **params):
    got = resolve_frames(sample, params)
    assert isinstance(got, Frames), got
    return got


def test_auto_frame_rules():
    assert _frames(Sample("", image_size=SIZE, input_size=INPUT)).pred == "input"
    assert _frames(Sample("", image_size=SIZE, input_size=SIZE)).pred == "original"
    assert _frames(Sample("")).pred == "original"
    assert _frames(Sample("", image_size=SIZE)).pred == "original"
    computed = _frames(Sample("", image_size=SIZE), **PROC)
    assert (computed.pred, computed.input_size) == ("input", INPUT)
    assert _frames(Sample("", image_size=SIZE, columns=PROC)).input_size == INPUT  # settings as row columns
    assert _frames(Sample("", image_size=SIZE, input_size=INPUT), model_family="qwen2-vl").pred == "norm1000"
    assert _frames(Sample("", image_size=SIZE, columns={"model_family": "Qwen2_5_VL"}), **PROC).pred == "input"
    assert _frames(Sample("", image_size=SIZE, input_size=INPUT, columns={"frame": "norm1"})).pred == "norm1"
    assert _frames(Sample("", image_size=SIZE, input_size=INPUT), frame="original").pred == "original"
    grid = _frames(Sample("", image_size=SIZE, columns={"image_grid_thw": [[1, 14, 50]]}), patch_size=16)
    assert grid.input_size == INPUT


def test_frames_that_cannot_be_resolved_say_why():
    assert resolve_frames(Sample(""), {"frame": "norm1000"}).startswith("no_image_size")
    assert resolve_frames(Sample("", image_size=SIZE), {"frame": "input"}).startswith("no_input_size")
    assert resolve_frames(Sample("", image_size=SIZE), {"model_family": "qwen2.5-vl"}).startswith("no_input_size")
    assert resolve_frames(Sample("", image_size=SIZE), {"model_family": "llava"}).startswith("bad_frame_settings")
    assert resolve_frames(Sample("", image_size=(10_000, 20)), {"patch_size": 14}).startswith("bad_frame_settings")


def _answer(box):
    return f'<answer>{{"bbox_2d": {box}}}</answer>'


@pytest.mark.parametrize("frame", list(SAME_BOX))
def test_same_physical_box_scores_one_in_every_frame(frame):
    sample = Sample(_answer(SAME_BOX[frame]), image_size=SIZE, input_size=INPUT)
    (v,) = score_batch([sample], [prepare_gold(GOLD, {})], {"frame": frame})
    assert v.score == pytest.approx(1.0) and v.reason == "iou=1.00"
    # the same without input_size: computed from the processor settings
    bare = Sample(_answer(SAME_BOX[frame]), image_size=SIZE)
    (v,) = score_batch([bare], [prepare_gold(GOLD, {})], {"frame": frame, **PROC})
    assert v.score == pytest.approx(1.0)


@pytest.mark.parametrize("frame", ["input", "norm1000", "norm1"])
def test_naive_comparison_in_mixed_frames_collapses(frame):
    sample = Sample(_answer(SAME_BOX[frame]), image_size=SIZE, input_size=INPUT)
    (naive,) = score_batch([sample], [prepare_gold(GOLD, {})], {"frame": "original"})
    assert naive.score < 0.4


def test_auto_frame_scores_qwen25_answers_right():
    """A Qwen2.5-VL row carries input_size: auto reads the answer in input pixels."""
    sample = Sample(_answer(SAME_BOX["input"]), image_size=SIZE, input_size=INPUT)
    (v,) = score_batch([sample], [prepare_gold(GOLD, {})], {})
    assert v.score == pytest.approx(1.0) and v.details["frame"] == "input"
    qwen2 = Sample(_answer(SAME_BOX["norm1000"]), image_size=SIZE, input_size=INPUT)
    (v,) = score_batch([qwen2], [prepare_gold(GOLD, {})], {"model_family": "qwen2-vl"})
    assert v.score == pytest.approx(1.0)


def test_gold_in_another_frame():
    sample = Sample(_answer(SAME_BOX["original"]), image_size=SIZE, input_size=INPUT)
    (v,) = score_batch([sample], [prepare_gold(SAME_BOX["norm1"], {})], {"frame": "original", "gt_frame": "norm1"})
    assert v.score == pytest.approx(1.0)


def test_polygons_and_rotated_boxes_convert_too():
    poly = [[80, 56], [320, 56], [320, 168], [80, 168]]  # the gold box as an input-frame polygon
    sample = Sample(f'<answer>{{"polygon": {poly}}}</answer>', image_size=SIZE, input_size=INPUT)
    (v,) = score_batch([sample], [prepare_gold(GOLD, {})], {"frame": "input"})
    assert v.score == pytest.approx(1.0)
    # a rotated box under unequal x/y scaling becomes the polygon of its corners
    rot = Sample("<answer>[200, 112, 240, 112, 0]</answer>", image_size=SIZE, input_size=INPUT)
    (v,) = score_batch([rot], [prepare_gold(GOLD, {})], {"frame": "input"})
    assert v.score == pytest.approx(1.0)


# -- a box reward given no frame information says so, once ------------------------------
@pytest.fixture()
def fresh_warnings():
    from vlmr1.plugins.iou import unframed

    unframed._warned.clear()
    yield
    unframed._warned.clear()


def _frame_warnings(record) -> list[str]:
    from vlmr1.plugins.iou.unframed import FrameWarning

    return [str(w.message) for w in record if issubclass(w.category, FrameWarning)]


def _box_rows(n, **extra):
    # a Qwen2.5-VL answer in model-input pixels: right, but scored as original pixels without frame information
    return [{"completion": f"<answer>{SAME_BOX['input']}</answer>", "solution": GOLD, "image_size": list(SIZE), **extra}
            for _ in range(n)]


def test_a_box_reward_without_frame_information_warns_once(fresh_warnings):
    import warnings

    from vlmr1.config import config_from_dict
    from vlmr1.engine import Engine

    cfg = config_from_dict({"rewards": [{"name": "acc", "reward": "iou"}, {"name": "ap", "reward": "detection_ap"}],
                            "engine": {"workers": 0}})
    with warnings.catch_warnings(record=True) as record, Engine(cfg) as engine:
        warnings.simplefilter("always")
        first = engine.score(_box_rows(3))
        engine.score(_box_rows(2))
    got = _frame_warnings(record)
    assert len(got) == 2, got  # one per reward, not one per row or batch
    iou_warning = next(w for w in got if w.startswith("iou reward"))
    assert "no input_size (or image_grid_thw with the patch_size param), model_family, frame column" in iou_warning
    assert "Add image_size and input_size to the rows" in iou_warning and "`frame: original`" in iou_warning
    assert any(w.startswith("detection_ap reward (frame: auto)") for w in got)
    assert max(first.columns["acc"]) < 0.6  # what the warning is about: a right box scored in the wrong frame


@pytest.mark.parametrize("extra, params", [
    ({"input_size": list(INPUT)}, {}),
    ({"model_family": "qwen2.5-vl", **PROC}, {}),
    ({"frame": "input", "input_size": list(INPUT)}, {}),
    ({}, {"frame": "original"}),
    ({"input_size": list(SIZE)}, {}),  # known, and the same as the image: the frame is known
])
def test_rows_or_params_that_tell_the_frame_do_not_warn(fresh_warnings, extra, params):
    import warnings

    rows = _box_rows(2, **extra)
    samples = [Sample(r["completion"], r["solution"], columns={k: v for k, v in r.items() if k not in ("completion", "solution")},
                      image_size=SIZE, input_size=tuple(r["input_size"]) if "input_size" in r else None) for r in rows]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        score_batch(samples, [prepare_gold(GOLD, params)] * 2, params)
    assert _frame_warnings(record) == []


def test_vlmr1_score_prints_the_frame_warning_once(fresh_warnings, tmp_path):
    import json

    from click.testing import CliRunner
    from vlmr1.cli import main

    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _box_rows(5)))
    (tmp_path / "c.yaml").write_text("rewards:\n  - {name: iou}\nengine: {workers: 0}\n")
    result = CliRunner().invoke(main, ["score", "--config", str(tmp_path / "c.yaml"), "--input", str(tmp_path / "in.jsonl"),
                                       "--output", str(tmp_path / "out.jsonl"), "--no-progress", "--chunk", "2"])
    assert result.exit_code == 0, result.output
    assert result.stderr.count("Warning: iou reward (frame: auto): the rows carry no frame information") == 1, result.stderr
