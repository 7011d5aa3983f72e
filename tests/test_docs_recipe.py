"""The plain-TRL recipe of docs/trainer.md runs as printed.

The code block is executed verbatim: only what this machine cannot have is swapped in
from outside the text. The hub model and processor become a tiny Qwen2.5-VL built in code
(``from_pretrained`` answers with it), ``rec.jsonl`` and its images are drawn in code, and
``GRPOConfig`` gets one short step. A recipe that names a function that moved, or calls one
with arguments it no longer takes, fails here instead of in a user's first run.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

pytest.importorskip("trl")

ROOT = Path(__file__).resolve().parents[1]


def recipe() -> str:
    text = (ROOT / "docs" / "trainer.md").read_text()
    section = text[text.index("### Plain TRL, without `vlmr1 train`"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_the_plain_trl_recipe_runs_as_printed(tmp_path, monkeypatch):
    import transformers
    import trl
    from vlmr1.trainers import synthetic, tiny

    model, processor = tiny.build("qwen2.5-vl", seed=0)
    calls = []

    def fake(kind):
        def from_pretrained(path, **kwargs):
            calls.append((kind, path, kwargs))
            return processor if kind == "processor" else model
        return from_pretrained

    monkeypatch.setattr(transformers.AutoProcessor, "from_pretrained", fake("processor"))
    monkeypatch.setattr(transformers.AutoModelForImageTextToText, "from_pretrained", fake("model"))
    real_config = trl.GRPOConfig

    def short_config(**kwargs):
        return real_config(**kwargs, max_steps=1, per_device_train_batch_size=4, num_generations=2,
                           max_completion_length=8, logging_steps=1, report_to=[], use_cpu=True, save_strategy="no")

    monkeypatch.setattr(trl, "GRPOConfig", short_config)
    rows = synthetic.make_rows(synthetic.SyntheticSpec(n=4, seed=0, tasks=("rec",)), tmp_path / "draw")
    (tmp_path / "images").mkdir()
    with (tmp_path / "rec.jsonl").open("w") as fh:
        for row in rows:
            name = Path(row["image"]).name
            shutil.copy(row["image"], tmp_path / "images" / name)
            fh.write(json.dumps({**row, "image": name}) + "\n")
    shutil.copy(ROOT / "examples" / "configs" / "rec.yaml", tmp_path / "rec.yaml")
    monkeypatch.chdir(tmp_path)

    namespace: dict = {}
    exec(compile(recipe(), "docs/trainer.md (plain TRL recipe)", "exec"), namespace)

    assert [c[0] for c in calls] == ["processor", "model"]  # the recipe's own loading calls were made
    history = namespace["trainer"].state.log_history
    assert any("rewards/iou/mean" in h and "rewards/format/mean" in h for h in history), history
    first = namespace["dataset"][0]
    assert first["model_family"] == "qwen2.5-vl" and first["input_size"] and first["image_size"]
