"""The supervised warm-up before GRPO: TRL's SFTTrainer on the reference answers."""

from __future__ import annotations

import pytest

pytest.importorskip("trl")

from vlmr1.config import config_from_dict  # noqa: E402
from vlmr1.errors import ConfigError  # noqa: E402
from vlmr1.registry import get_registry  # noqa: E402
from vlmr1.trainers import data, sft, tiny  # noqa: E402
from vlmr1.trainers.grpo import Runtime, template_chooser  # noqa: E402

CPU = Runtime("cpu", False, None)


@pytest.fixture(scope="module")
def setup():
    model, processor = tiny.build("qwen2.5-vl", seed=0)
    rows = data.load_rows({"synthetic": {"n": 8, "seed": 2, "tasks": ["rec"]}}, processor=processor)
    return model, processor, rows


def _templates():
    return template_chooser(config_from_dict({"task": "rec", "rewards": [{"name": "format"}]}), get_registry())


def _answer_logprob(model, processor, row, templates) -> float:
    """Mean log-probability of the reference answer's tokens after the row's prompt."""
    import torch
    from trl.data_utils import prepare_multimodal_messages

    from vlmr1.trl import open_images, prompt_for

    images = open_images(row)
    prompt = prepare_multimodal_messages(prompt_for(row, templates(row)), images=images)
    text = processor.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
    answer = row["answer"] + "<|im_end|>"
    enc = processor(text=[text + answer], images=images, return_tensors="pt")
    n = len(processor.tokenizer(answer, add_special_tokens=False)["input_ids"])
    model.eval()
    with torch.no_grad():
        logits = model(**enc).logits[0, -n - 1:-1]
    target = enc["input_ids"][0, -n:]
    return torch.log_softmax(logits.float(), -1).gather(-1, target[:, None]).mean().item()


def test_warm_up_makes_the_reference_answers_likelier(setup, tmp_path):
    import copy

    model, processor, rows = setup
    model = copy.deepcopy(model)
    templates = _templates()
    before = _answer_logprob(model, processor, rows[0], templates)
    said = []
    history = sft.warm_up(model, processor, rows, {"max_steps": 12, "learning_rate": 5e-3, "per_device_train_batch_size": 4,
                                                   "logging_steps": 4},
                          templates=templates, runtime=CPU, output_dir=tmp_path, seed=0, say=said.append, quiet=True)
    after = _answer_logprob(model, processor, rows[0], templates)
    assert len(history) == 3 and history[-1]["loss"] < history[0]["loss"]
    assert after > before + 1.0  # nats per token
    assert said[0] == "supervised warm-up: 12 steps on 8 reference answers"
    assert said[-1].startswith("warm-up  12/12  loss ")


def test_zero_steps_skips_the_warm_up(setup, tmp_path):
    model, processor, rows = setup
    assert sft.warm_up(model, processor, rows, {"max_steps": 0}, templates=_templates(), runtime=CPU,
                       output_dir=tmp_path, say=lambda s: None) == []


def test_rows_without_reference_answers_are_an_error(setup):
    _, _, rows = setup
    with pytest.raises(ConfigError, match="no row has a 'reference' column"):
        sft.sft_rows(rows, "reference")
    pairs = sft.sft_rows(rows, "answer")
    assert pairs[0]["completion"] == [{"role": "assistant", "content": rows[0]["answer"]}]


def test_sft_block_is_checked_against_sft_config(tmp_path):
    with pytest.raises(ConfigError, match="'learning_rte' is not a trl.SFTConfig option. Did you mean 'learning_rate'"):
        sft.sft_config({"learning_rte": 1e-3}, output_dir=str(tmp_path), runtime=CPU)
    args = sft.sft_config({"answer": "answer", "max_steps": 7}, output_dir=str(tmp_path), runtime=CPU)
    assert args.max_steps == 7 and args.use_cpu and not args.bf16
