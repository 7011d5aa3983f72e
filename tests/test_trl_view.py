"""vlmr1.trl's dataset view: rows kept as Python objects (no JSON text, nothing in arrow but
positions), images opened once per distinct row, one Sample per row read, no pixels for
rewards, and reward functions that score the view's Samples exactly as they score plain
TRL columns."""

from __future__ import annotations

import asyncio
import pickle

import pytest

pytest.importorskip("datasets")

from vlmr1 import trl as boundary  # noqa: E402
from vlmr1.config import config_from_dict  # noqa: E402
from vlmr1.engine import Engine  # noqa: E402
from vlmr1.types import Sample  # noqa: E402

G = 3  # generations per prompt


class _Template:
    def render(self, question):
        return [{"role": "system", "content": "Answer in tags."}, {"role": "user", "content": question}]


@pytest.fixture()
def rows(tmp_path):
    from PIL import Image

    out = []
    for i, (w, h) in enumerate([(40, 30), (50, 20)]):
        Image.new("RGB", (w, h), (10 * i, 90, 160)).save(tmp_path / f"{i}.png")
        out.append({"id": f"r{i}", "task": "rec", "problem": f"Find square {i}.", "image": str(tmp_path / f"{i}.png"),
                    "image_size": [w, h], "input_size": [w, h], "solution": [1, 2, 10 + i, 12]})
    out[1]["solution"] = "a string in the next row"  # arrow could not hold both in one column
    return out


def _batch(dataset, positions):
    """What TRL's dataloader hands the trainer: the examples at those positions, as dicts."""
    return [dataset[p] for p in positions]


def test_rows_stay_out_of_arrow_and_come_back_whole(rows):
    dataset = boundary.trl_dataset(rows, lambda row: _Template())
    assert dataset.column_names == ["position"]  # no JSON text, no row columns in arrow
    first, second = dataset[0], dataset[1]
    assert first["solution"] == [1, 2, 10, 12] and second["solution"] == "a string in the next row"
    assert [im.size for im in first["images"]] == [(40, 30)]
    assert first["prompt"] == [{"role": "system", "content": "Answer in tags."}, {"role": "user", "content": "Find square 0."}]
    # what a DataLoader worker receives: the pickled dataset reads the same rows
    again = pickle.loads(pickle.dumps(dataset))
    assert again[1]["solution"] == "a string in the next row" and again[0]["id"] == "r0"


def test_the_sample_column_is_the_row_without_pixels(rows):
    dataset = boundary.trl_dataset(rows, lambda row: _Template())
    sample = dataset[0][boundary.SAMPLE_COLUMN]
    assert isinstance(sample, Sample)
    assert (sample.id, sample.task, sample.image, sample.image_size, sample.input_size) == \
        ("r0", "rec", rows[0]["image"], (40, 30), (40, 30))
    assert list(sample.solution) == [1, 2, 10, 12] and sample.completion == ""
    # the prompt as TRL hands it to rewards for an image row: typed parts, one image placeholder, no pixels
    user = sample.prompt[-1]["content"]
    assert user[0] == {"type": "image"} and user[1] == {"type": "text", "text": "Find square 0."}
    assert "images" not in sample.columns


def test_one_sample_per_distinct_row_of_a_batch(rows, monkeypatch):
    built = []
    real = boundary.sample_from_row
    monkeypatch.setattr(boundary, "sample_from_row", lambda row, *a, **k: built.append(row["id"]) or real(row, *a, **k))
    dataset = boundary.trl_dataset(rows, lambda row: _Template())
    positions = [0] * G + [1] * G  # TRL's RepeatSampler: each prompt num_generations times
    batch = dataset[positions]
    assert sorted(built) == ["r0", "r1"]  # not once per generation
    assert batch[boundary.SAMPLE_COLUMN][0] is batch[boundary.SAMPLE_COLUMN][G - 1]
    assert batch["images"][0] is batch["images"][1]  # each image opened once per batch


def test_reward_functions_score_the_view_as_they_score_plain_columns(rows, monkeypatch):
    """The same completions scored through the view's Samples and through plain TRL
    columns (prompts with pixels inside, the `images` column) give the same rewards; the
    Sample path builds no Sample per completion."""
    from trl.data_utils import prepare_multimodal_messages

    dataset = boundary.trl_dataset(rows, lambda row: _Template())
    examples = _batch(dataset, [0] * G + [1] * G)
    completions = [[{"role": "assistant", "content": text}] for text in (
        '<think>a</think><answer>{"bbox_2d": [1, 2, 10, 12]}</answer>', "no tags", "<answer>[1, 2, 5, 6]</answer>",
        '<think>b</think><answer>{"bbox_2d": [0, 0, 5, 5]}</answer>', "<think>c</think><answer>x</answer>", "")]
    prompts = [prepare_multimodal_messages(e["prompt"], images=e["images"]) for e in examples]  # what TRL passes
    columns = {k: [e[k] for e in examples] for k in examples[0] if k != "prompt"}
    plain = {k: v for k, v in columns.items() if k != boundary.SAMPLE_COLUMN}
    config = config_from_dict({"task": "rec", "rewards": [{"name": "format", "weight": 0.5}, {"name": "iou", "gate": "format"}],
                               "engine": {"workers": 1}})
    with Engine(config) as engine:
        funcs, _ = boundary.trl_reward_functions(config, engine=engine)
        seen = []
        real_score = engine.score
        monkeypatch.setattr(engine, "score", lambda samples: seen.extend(samples) or real_score(samples))

        def run(cols):
            out = {f.__name__: f(prompts=prompts, completions=completions, **cols) for f in funcs}
            return {k: asyncio.run(v) if asyncio.iscoroutine(v) else v for k, v in out.items()}

        via_view = run(columns)
        view_samples, seen[:] = list(seen), []
        via_plain = run(plain)
    assert via_view == via_plain and via_view["format"][0] == 1.0 and via_view["iou"][0] == pytest.approx(1.0)
    assert via_view["format"][1] == 0.0
    assert [s.index for s in view_samples] == list(range(2 * G)) and [s.id for s in view_samples] == ["r0"] * G + ["r1"] * G
    for s in [*view_samples, *seen]:  # neither way ships pixels to a reward
        parts = [p for m in s.prompt if isinstance(m["content"], list) for p in m["content"]]
        assert {"type": "image"} in parts and not any("image" in p for p in parts) and "images" not in s.columns


def test_a_row_that_cannot_be_a_sample_costs_that_row(rows):
    rows[1]["image_size"] = [0, 5]  # not a size
    dataset = boundary.trl_dataset(rows, lambda row: _Template())
    examples = _batch(dataset, [0, 1])
    assert isinstance(examples[1][boundary.SAMPLE_COLUMN], str)
    config = config_from_dict({"task": "rec", "rewards": [{"name": "format"}], "engine": {"workers": 1}})
    with Engine(config) as engine:
        (func,), _ = boundary.trl_reward_functions(config, engine=engine)
        logged = {}
        out = func(prompts=None, completions=['<think>a</think><answer>{"bbox_2d": [1, 2, 3, 4]}</answer>'] * 2,
                   log_extra=lambda key, values: logged.update({key: values}),
                   **{k: [e[k] for e in examples] for k in examples[0]})
    assert out[0] == 1.0 and out[1] is None
    assert logged["reason/format"][1].startswith("invalid row: `image_size` must be two positive integers")
