"""The tiny offline models: built from nothing, they load, process a chat with an
image, run forward and generate, and survive a save/load round-trip unchanged."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image
from vlmr1.errors import ConfigError
from vlmr1.trainers import tiny

VL_KINDS = ["qwen2-vl", "qwen2.5-vl"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return {kind: tiny.build_tiny_model(kind, root / kind, seed=3) for kind in tiny.KINDS}


def _chat(text="find the red square"):
    return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]


def _inputs(processor, images, texts=None):
    texts = texts or ["find the red square"] * len(images)
    prompts = [processor.apply_chat_template(_chat(t), tokenize=False, add_generation_prompt=True) for t in texts]
    return processor(text=prompts, images=images, return_tensors="pt", padding=True)


def test_tokenizer_has_qwen_specials_and_round_trips_answers():
    tok = tiny.build_tokenizer()
    for token in tiny.SPECIAL_TOKENS:
        ids = tok(token, add_special_tokens=False)["input_ids"]
        assert ids == [tok.convert_tokens_to_ids(token)], token  # one piece, never split
    text = '<think>The box is here.</think><answer>{"bbox_2d": [12, 34, 560, 78]}</answer>'
    assert tok.decode(tok(text)["input_ids"]) == text
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    # the trained vocabulary actually merges the corpus (not just bytes)
    assert len(tok(text)["input_ids"]) < len(text) / 2


@pytest.mark.parametrize("kind", VL_KINDS)
def test_config_token_ids_agree_with_tokenizer(kind):
    model, processor = tiny.build(kind)
    tok = processor.tokenizer
    cfg = model.config
    assert cfg.image_token_id == tok.convert_tokens_to_ids("<|image_pad|>") == processor.image_token_id
    assert cfg.video_token_id == tok.convert_tokens_to_ids("<|video_pad|>")
    assert cfg.vision_start_token_id == tok.convert_tokens_to_ids("<|vision_start|>")
    assert cfg.vision_end_token_id == tok.convert_tokens_to_ids("<|vision_end|>")
    assert model.generation_config.eos_token_id == tok.convert_tokens_to_ids("<|im_end|>")
    assert cfg.get_text_config().vocab_size == len(tok)


@pytest.mark.parametrize("kind", VL_KINDS)
def test_chat_template_renders_image_items(kind):
    _, processor = tiny.build(kind)
    text = processor.apply_chat_template(_chat("how many circles"), tokenize=False, add_generation_prompt=True)
    assert "<|vision_start|><|image_pad|><|vision_end|>how many circles<|im_end|>" in text
    assert text.startswith("<|im_start|>system\n") and text.endswith("<|im_start|>assistant\n")


@pytest.mark.parametrize("kind", VL_KINDS)
@pytest.mark.parametrize("size", [(200, 90), (90, 200), (640, 480), (33, 31), (1000, 60)])
def test_image_grid_agrees_with_smart_resize(kind, size):
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

    _, processor = tiny.build(kind)
    ip = processor.image_processor
    w, h = size
    out = _inputs(processor, [Image.new("RGB", size, (10, 200, 30))])
    t, gh, gw = out["image_grid_thw"][0].tolist()
    factor = ip.patch_size * ip.merge_size
    rh, rw = smart_resize(h, w, factor=factor, min_pixels=ip.size["shortest_edge"], max_pixels=ip.size["longest_edge"])
    assert (t, gh * ip.patch_size, gw * ip.patch_size) == (1, rh, rw)
    # the prompt holds exactly one image token per merged patch
    n_img = int((out["input_ids"] == processor.image_token_id).sum())
    assert n_img == gh * gw // ip.merge_size**2
    assert ip.size["shortest_edge"] <= rh * rw <= ip.size["longest_edge"]


@pytest.mark.parametrize("kind", VL_KINDS)
def test_forward_and_generate_on_a_batch_of_two_images(kind):
    model, processor = tiny.build(kind, seed=1)
    images = [Image.new("RGB", (200, 90), (255, 0, 0)), Image.new("RGB", (64, 128), (0, 0, 255))]
    inputs = _inputs(processor, images, ["find the red square", "how many circles are there"])
    assert processor.tokenizer.padding_side == "left"
    with torch.no_grad():
        logits = model(**inputs).logits
    assert logits.shape[:2] == inputs["input_ids"].shape and logits.shape[-1] == len(processor.tokenizer)
    assert torch.isfinite(logits).all()
    out = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    n = inputs["input_ids"].shape[1]
    assert out.shape[0] == 2 and n < out.shape[1] <= n + 4
    assert torch.equal(out[:, :n], inputs["input_ids"])  # generation continues the prompt
    assert isinstance(processor.batch_decode(out[:, inputs["input_ids"].shape[1]:]), list)


@pytest.mark.parametrize("kind", VL_KINDS)
def test_save_load_round_trip(kind, saved):
    path = saved[kind]
    marker = json.loads((path / tiny.MARKER).read_text())
    assert marker["kind"] == kind and tiny.is_tiny_dir(path)
    fresh, fresh_proc = tiny.build(kind, seed=3)
    model, processor = tiny.load_tiny(path)
    assert type(processor).__name__ == "ImageOnlyQwenVLProcessor"
    assert processor.image_processor.size == fresh_proc.image_processor.size
    assert processor.chat_template == fresh_proc.chat_template
    image = Image.new("RGB", (150, 100), (0, 128, 0))
    a, b = _inputs(processor, [image]), _inputs(fresh_proc, [image])
    assert torch.equal(a["input_ids"], b["input_ids"]) and torch.equal(a["pixel_values"], b["pixel_values"])
    with torch.no_grad():
        assert torch.allclose(model(**a).logits, fresh(**b).logits, atol=1e-6)


def test_same_seed_same_weights_other_seed_differs():
    a, _ = tiny.build("qwen2.5-vl", seed=5)
    b, _ = tiny.build("qwen2.5-vl", seed=5)
    c, _ = tiny.build("qwen2.5-vl", seed=6)
    wa, wb, wc = (m.get_input_embeddings().weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)


def test_sizes_from_a_config_reach_the_model():
    """`model.sizes` in a config: the dimensions and the init scale are the model's;
    a misspelt key is an error naming the nearest field."""
    from vlmr1.trainers.runtime import Runtime, load_model

    sizes = tiny.sizes_from({"hidden_size": 96, "initializer_range": 0.1})
    model, _ = load_model({"tiny": "qwen2.5-vl", "sizes": {"hidden_size": 96, "initializer_range": 0.1}},
                          Runtime("cpu", False, None))
    assert sizes.hidden_size == model.config.text_config.hidden_size == 96
    q = model.model.language_model.layers[0].self_attn.q_proj.weight
    assert 0.08 < float(q.std()) < 0.12  # drawn with std 0.1, not the default 0.02
    default, _ = tiny.build("qwen2.5-vl")
    assert 0.015 < float(default.model.language_model.layers[0].self_attn.q_proj.weight.std()) < 0.025
    with pytest.raises(ConfigError, match="Did you mean 'hidden_size'"):
        tiny.sizes_from({"hiden_size": 96})


def test_text_only_qwen2(saved):
    model, tok = tiny.load_tiny(saved["qwen2"])
    text = tok.apply_chat_template([{"role": "user", "content": "count the circles"}], tokenize=False,
                                   add_generation_prompt=True)
    assert text.endswith("<|im_start|>assistant\n")
    inputs = tok(text, return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=3, do_sample=False)
    n = inputs["input_ids"].shape[1]
    assert n < out.shape[1] <= n + 3 and torch.equal(out[:, :n], inputs["input_ids"])


def test_unknown_kind_and_non_tiny_dir_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="qwen2.5-vl"):
        tiny.build("qwen25-vl")
    with pytest.raises(ConfigError, match="not a tiny model directory"):
        tiny.load_tiny(tmp_path)


@pytest.mark.parametrize("kind", VL_KINDS)
def test_a_model_saved_after_training_loads_back_with_its_processor(kind, tmp_path):
    """What a training run writes (save_pretrained of model and processor, no marker file)."""
    model, processor = tiny.build(kind, seed=2)
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    assert tiny.tiny_kind(tmp_path) == kind and tiny.is_tiny_dir(tmp_path)
    loaded, loaded_proc = tiny.load_tiny(tmp_path)
    assert type(loaded_proc).__name__ == "ImageOnlyQwenVLProcessor"
    assert type(loaded) is type(model)
    (tmp_path / "config.json").unlink()
    assert not tiny.is_tiny_dir(tmp_path)


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_attn_implementation_reaches_a_tiny_model_built_or_saved(saved, attn):
    """`model.attn_implementation` applies to `model.tiny` and to a saved tiny folder alike."""
    from vlmr1.trainers.runtime import Runtime, load_model

    runtime = Runtime("cpu", False, attn)
    built, _ = load_model({"tiny": "qwen2.5-vl"}, runtime)
    loaded, _ = load_model({"path": str(saved["qwen2.5-vl"])}, runtime)
    assert built.config._attn_implementation == attn
    assert loaded.config._attn_implementation == attn
