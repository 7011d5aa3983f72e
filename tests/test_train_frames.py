"""Coordinate frames inside training: the row's original size and model-input size reach
the `iou` reward through a real GRPOTrainer reward call, for Qwen2-VL (boxes in
[0, 1000)) and Qwen2.5-VL (boxes in pixels of the resized input) alike.

The image is 250x100 (aspect 2.5); the tiny processor's resize makes it 168x56 (aspect
3.0), so no single scale factor maps one frame onto the other. The ground truth is
[50, 20, 150, 80] in original pixels. Each model's correct answer, written in its own
frame, scores ~1; the same answer compared naively with the ground truth (as if both
were original pixels) scores low; and one model's answer read in the other model's
frame scores low too, so the frame really is chosen per model.
"""

from __future__ import annotations

import pytest

pytest.importorskip("trl")

from vlmr1.config import config_from_dict  # noqa: E402
from vlmr1.trainers import data, tiny  # noqa: E402
from vlmr1.trainers.grpo import Runtime, build_trainer  # noqa: E402

IMAGE = (250, 100)
INPUT = (168, 56)  # smart_resize(250x100, factor 28, max_pixels 28*28*16): floor(250/1.41/28)*28, floor(100/1.41/28)*28
GOLD = [50, 20, 150, 80]
# Qwen2-VL: x * 1000 / 250, y * 1000 / 100
NORM1000_ANSWER = [200, 200, 600, 800]
# Qwen2.5-VL: x * 168 / 250, y * 56 / 100 = [33.6, 11.2, 100.8, 44.8], rounded as a model would
INPUT_ANSWER = [34, 11, 101, 45]


def _completion(box):
    return [{"role": "assistant", "content": f'<think>It is there.</think><answer>{{"bbox_2d": {box}}}</answer>'}]


@pytest.fixture(scope="module", params=["qwen2-vl", "qwen2.5-vl"])
def rewarded(request, tmp_path_factory):
    """(kind, rewards per completion) from one real reward call of a real trainer."""
    from PIL import Image

    kind = request.param
    root = tmp_path_factory.mktemp(kind)
    Image.new("RGB", IMAGE, (250, 250, 250)).save(root / "wide.png")
    model, processor = tiny.build(kind, seed=0)
    rows = data.add_image_sizes(
        [{"id": "w", "task": "rec", "image": str(root / "wide.png"), "problem": "Find the square.", "solution": GOLD}],
        processor,
    )
    config = config_from_dict({
        "task": "rec",
        "rewards": [
            {"name": "iou"},  # frame: auto -> the model's frame, from the row's model family
            {"name": "iou_naive", "reward": "iou", "params": {"frame": "original"}},  # no conversion
        ],
        "engine": {"workers": 1},
        "grpo": {"per_device_train_batch_size": 3, "num_generations": 3, "max_completion_length": 8, "max_steps": 1},
    })
    with build_trainer(config, rows=rows, model=model, processor=processor, runtime=Runtime("cpu", False, None),
                       output_dir=root / "out") as built:
        trainer = built.trainer
        batch = next(iter(trainer.get_train_dataloader()))  # the rows exactly as TRL hands them on
        completions = [_completion(NORM1000_ANSWER), _completion(INPUT_ANSWER), _completion(GOLD)]
        scores = trainer._calculate_rewards(batch, [x["prompt"] for x in batch], completions, [[1]] * 3)
        reasons = trainer._pending_extra_logs["reason/iou"][-3:]
    return kind, batch, scores.tolist(), reasons


def test_sizes_reach_the_reward_columns(rewarded):
    kind, batch, _, _ = rewarded
    assert len(batch) == 3
    for row in batch:
        assert list(row["image_size"]) == list(IMAGE) and list(row["input_size"]) == list(INPUT)
        assert row["model_family"] == kind
    assert IMAGE[0] / IMAGE[1] != INPUT[0] / INPUT[1]  # the resize changed the aspect


def test_the_models_own_frame_scores_one_and_naive_comparison_does_not(rewarded):
    kind, _, scores, reasons = rewarded
    (norm_iou, norm_naive), (input_iou, input_naive), (gold_iou, gold_naive) = scores
    if kind == "qwen2-vl":
        # [200, 200, 600, 800] / 1000 * (250, 100) = [50, 20, 150, 80]: exact
        assert norm_iou == pytest.approx(1.0, abs=1e-6)
        assert norm_naive == 0.0  # [200, 200, 600, 800] vs [50, 20, 150, 80]: no overlap
        assert input_iou < 0.1  # a Qwen2.5-VL-style answer read as [0, 1000): [8.5, 1.1, 25.3, 4.5]
        assert gold_iou < 0.1  # original pixels read as [0, 1000)
    else:
        # [34, 11, 101, 45] * (250/168, 100/56) = [50.6, 19.6, 150.3, 80.4] vs the gold: IoU 0.98
        assert input_iou == pytest.approx(0.98, abs=0.01)
        # naive: [34, 11, 101, 45] vs [50, 20, 150, 80]: overlap 51 x 25 = 1275,
        # union 67*34 + 100*60 - 1275 = 7003 -> 0.182
        assert input_naive == pytest.approx(1275 / 7003, abs=1e-3)
        assert norm_iou == 0.0  # a Qwen2-VL-style answer read as input pixels lands off the image
        assert gold_iou < 0.6  # original pixels read as input pixels: stretched by 1.49 x 1.79
    assert gold_naive == pytest.approx(1.0)  # the naive column really is an unconverted comparison
    assert all(r.startswith("iou=") for r in reasons), reasons
