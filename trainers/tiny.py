"""Tiny Qwen2-VL / Qwen2.5-VL / Qwen2 models built entirely offline.

Tests and ``vlmr1 demo`` need a real vision-language model that runs on a CPU in
seconds and needs no model hub. Everything here is made in code: a byte-level BPE
tokenizer trained on a small built-in corpus (digits, JSON punctuation, the
``<think>``/``<answer>`` tags, the words of grounding and counting prompts) with
Qwen's special tokens, Qwen's chat template, random weights from a tiny config, and
the PIL image processor.

The stock Qwen processors also hold a video processor, which needs torchvision (no
CPU build on these machines), so the processor here is Qwen's own processor class
without the video part. It round-trips through ``save_pretrained`` /
:func:`load_tiny`. The model directory is an ordinary transformers directory; only
the processor needs :func:`load_processor` (``AutoProcessor`` would try to build the
video processor).
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

KINDS = ("qwen2-vl", "qwen2.5-vl", "qwen2")
MARKER = "vlmr1_tiny.json"

# Qwen's special tokens, in Qwen's order (their ids here are small, not Qwen's 151643+;
# the model config is built from the tokenizer so the two always agree).
SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
    "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
]

# Qwen2-VL's chat template (image and video items become vision_start/pad/end), with
# the default system prompt when the conversation has none.
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_WORDS = (
    "find locate the a an of in on at to is are how many there image picture please output "
    "red green blue yellow purple orange black white gray square circle rectangle triangle shape "
    "shapes object objects box boxes bounding coordinates count number answer think first then "
    "reasoning process final format json bbox_2d label left right top bottom above below small large "
    "you should your within tags and or not thinking question what which where one two three four five "
    "near middle only its colour color kind by"
)
_COLOURS = ("red", "green", "blue", "yellow", "purple", "orange")
_SHAPES = ("square", "circle", "triangle")
_PLACES = ("near the top left", "near the top", "near the top right", "near the left", "in the middle",
           "near the right", "near the bottom left", "near the bottom", "near the bottom right")


def _corpus() -> list[str]:
    """Text the tokenizer is trained on: the prompts and answers of grounding and counting
    (so the answer format takes few tokens and a tiny model learns it quickly), numbers, JSON."""
    lines = [_WORDS, _WORDS.title(), _WORDS.upper(),
             "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags."]
    for i, (colour, shape) in enumerate((c, s) for c in _COLOURS for s in _SHAPES):
        place = _PLACES[i % len(_PLACES)]
        box = [i * 7 % 200, i * 11 % 150, i * 7 % 200 + 20, i * 11 % 150 + 30]
        lines += [
            f"Find the {colour} {shape}. Locate the {colour} {shape} in the image.",
            f'<think>The {colour} {shape} is {place}.</think><answer>{{"bbox_2d": {box}}}</answer>',
            f"How many {shape}s are in the image? How many {colour} {shape}s are there?",
            f"<think>I count the {shape}s one by one.</think><answer>{i % 6}</answer>",
        ] * 4
    for i in range(0, 1000, 3):
        lines.append(f"[{i}, {(i * 7) % 1000}, {(i * 13) % 1000}, {(i * 29) % 1000}] {i}.{i % 10}")
    # The first-party prompt templates' own text, so a rendered prompt is short: prompt
    # length, not the model, dominates a tiny model's step time. They come from a registry
    # of vlmr1's own plugins only, so installed third-party templates (and whichever
    # registry a process swapped in) never change the tokenizer.
    from vlmr1.registry import load_registry

    for t in load_registry(allow=set()).templates.values():
        lines += [t.system, t.question.replace("{question}", ""), t.answer_format] * 8
    return lines


@dataclass(frozen=True)
class TinySizes:
    """The sizes of a tiny model. Defaults run a forward pass in milliseconds on a CPU."""

    vocab_size: int = 1024
    hidden_size: int = 64
    intermediate_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    vision_depth: int = 2
    vision_width: int = 32
    vision_heads: int = 2
    patch_size: int = 14
    merge_size: int = 2
    temporal_patch_size: int = 2
    min_pixels: int = 28 * 28 * 4
    max_pixels: int = 28 * 28 * 16
    max_position_embeddings: int = 4096
    initializer_range: float = 0.02


def sizes_from(values: Any) -> TinySizes:
    """TinySizes from a config's ``model.sizes`` mapping; an unknown key is an error (checked in settings)."""
    from .settings import tiny_sizes

    return tiny_sizes(values)


@functools.lru_cache(maxsize=4)
def _trained_tokenizer_json(vocab_size: int) -> str:
    """The trained BPE as JSON (training takes seconds; every build reuses it)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    core.train_from_iterator(_corpus(), trainer)
    return core.to_str()


def build_tokenizer(sizes: TinySizes = TinySizes()) -> Any:
    """A byte-level BPE tokenizer trained here, with Qwen's special tokens and chat template."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer.from_str(_trained_tokenizer_json(sizes.vocab_size))
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        additional_special_tokens=SPECIAL_TOKENS[1:], clean_up_tokenization_spaces=False,
    )
    tok.chat_template = CHAT_TEMPLATE
    tok.padding_side = "left"
    return tok


def _processor_class() -> type:
    """Qwen's processor without the video processor (defined lazily: transformers is heavy)."""
    global _PROCESSOR_CLASS
    if _PROCESSOR_CLASS is None:
        from transformers import Qwen2VLProcessor

        class ImageOnlyQwenVLProcessor(Qwen2VLProcessor):
            """Qwen2-VL / Qwen2.5-VL processing for images and text; no video processor."""

            def __init__(self, image_processor: Any = None, tokenizer: Any = None, chat_template: Any = None, **kwargs: Any) -> None:
                super().__init__(image_processor=image_processor, tokenizer=tokenizer, video_processor=None,
                                 chat_template=chat_template, **kwargs)

        ImageOnlyQwenVLProcessor.__module__ = __name__
        _PROCESSOR_CLASS = ImageOnlyQwenVLProcessor
    return _PROCESSOR_CLASS


_PROCESSOR_CLASS: type | None = None


def __getattr__(name: str) -> Any:
    if name == "ImageOnlyQwenVLProcessor":
        return _processor_class()
    raise AttributeError(name)


def build_image_processor(sizes: TinySizes = TinySizes()) -> Any:
    """Qwen's PIL image processor with a small pixel budget (a few patches per image)."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil,
    )

    return Qwen2VLImageProcessorPil(
        min_pixels=sizes.min_pixels, max_pixels=sizes.max_pixels, patch_size=sizes.patch_size,
        merge_size=sizes.merge_size, temporal_patch_size=sizes.temporal_patch_size,
    )


def build_processor(kind: str, sizes: TinySizes = TinySizes(), tokenizer: Any = None) -> Any:
    """The processor for ``kind``: image + text for the VL kinds, the tokenizer for qwen2."""
    _check_kind(kind)
    tokenizer = tokenizer or build_tokenizer(sizes)
    if kind == "qwen2":
        return tokenizer
    return _processor_class()(image_processor=build_image_processor(sizes), tokenizer=tokenizer,
                              chat_template=CHAT_TEMPLATE)


def build_config(kind: str, tokenizer: Any, sizes: TinySizes = TinySizes()) -> Any:
    """A tiny model config whose special token ids are the tokenizer's own."""
    _check_kind(kind)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    head_dim = sizes.hidden_size // sizes.num_attention_heads
    text = dict(
        vocab_size=len(tokenizer), hidden_size=sizes.hidden_size, intermediate_size=sizes.intermediate_size,
        num_hidden_layers=sizes.num_hidden_layers, num_attention_heads=sizes.num_attention_heads,
        num_key_value_heads=sizes.num_key_value_heads, max_position_embeddings=sizes.max_position_embeddings,
        bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
        initializer_range=sizes.initializer_range,
    )
    if kind == "qwen2":
        from transformers import Qwen2Config

        return Qwen2Config(**text, tie_word_embeddings=True)
    # multimodal rotary: (temporal, height, width) sections of head_dim / 2
    half = head_dim // 2
    section = [half - 2 * (half // 3), half // 3, half // 3]
    text["rope_parameters"] = {"rope_type": "default", "rope_theta": 1_000_000.0, "mrope_section": section}
    tokens = dict(
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
    )
    vision_common = dict(
        depth=sizes.vision_depth, num_heads=sizes.vision_heads, patch_size=sizes.patch_size,
        spatial_merge_size=sizes.merge_size, temporal_patch_size=sizes.temporal_patch_size, in_channels=3,
        initializer_range=sizes.initializer_range,
    )
    if kind == "qwen2-vl":
        from transformers import Qwen2VLConfig

        vision = dict(vision_common, embed_dim=sizes.vision_width, hidden_size=sizes.hidden_size, mlp_ratio=2)
        return Qwen2VLConfig(text_config=text, vision_config=vision, **tokens, tie_word_embeddings=True)
    from transformers import Qwen2_5_VLConfig

    vision = dict(
        vision_common, hidden_size=sizes.vision_width, intermediate_size=sizes.vision_width * 2,
        out_hidden_size=sizes.hidden_size, window_size=sizes.patch_size * sizes.merge_size * 2,
        fullatt_block_indexes=[sizes.vision_depth - 1],
    )
    return Qwen2_5_VLConfig(text_config=text, vision_config=vision, **tokens, tie_word_embeddings=True)


def build(kind: str, seed: int = 0, sizes: TinySizes = TinySizes()) -> tuple[Any, Any]:
    """(model, processor) in memory, random weights from ``seed``; nothing is downloaded."""
    import torch
    import transformers

    _check_kind(kind)
    tokenizer = build_tokenizer(sizes)
    processor = build_processor(kind, sizes, tokenizer)
    config = build_config(kind, tokenizer, sizes)
    cls = {
        "qwen2": transformers.Qwen2ForCausalLM,
        "qwen2-vl": transformers.Qwen2VLForConditionalGeneration,
        "qwen2.5-vl": transformers.Qwen2_5_VLForConditionalGeneration,
    }[kind]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = cls(config)
    model.eval()
    gen = model.generation_config
    gen.eos_token_id = tokenizer.eos_token_id
    gen.pad_token_id = tokenizer.pad_token_id
    gen.bos_token_id = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    return model, processor


def build_tiny_model(kind: str, out_dir: str | Path, seed: int = 0, sizes: TinySizes = TinySizes()) -> Path:
    """Write a loadable model directory (config, weights, tokenizer, processor) to ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model, processor = build(kind, seed=seed, sizes=sizes)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    (out / MARKER).write_text(json.dumps({"kind": kind, "seed": seed, "sizes": asdict(sizes)}, indent=2) + "\n")
    return out


def tiny_kind(path: str | Path) -> str | None:
    """The kind of a directory holding this module's processor, else None.

    A directory written by :func:`build_tiny_model` says so in its marker file; a model
    trained from one and saved with ``save_pretrained`` (no marker) is recognised by its
    processor class, so it loads back with the same processor.
    """
    path = Path(path)
    if (path / MARKER).is_file():
        return json.loads((path / MARKER).read_text())["kind"]
    try:
        saved = json.loads((path / "processor_config.json").read_text())
        model_type = json.loads((path / "config.json").read_text()).get("model_type")
    except (OSError, ValueError):
        return None
    if saved.get("processor_class") != "ImageOnlyQwenVLProcessor":
        return None
    return {"qwen2_vl": "qwen2-vl", "qwen2_5_vl": "qwen2.5-vl"}.get(model_type)


def is_tiny_dir(path: str | Path) -> bool:
    """Whether ``path`` needs :func:`load_tiny` (written here, or trained from such a model)."""
    return tiny_kind(path) is not None


def load_processor(path: str | Path) -> Any:
    """The processor of a model directory written by :func:`build_tiny_model`."""
    path = Path(path)
    kind = _read_marker(path)["kind"]
    if kind == "qwen2":
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(path)
    return _processor_class().from_pretrained(path)


def load_tiny(path: str | Path, dtype: Any = None, attn_implementation: str | None = None) -> tuple[Any, Any]:
    """(model, processor) from a directory written by :func:`build_tiny_model`."""
    import transformers

    path = Path(path)
    kind = _read_marker(path)["kind"]
    cls = transformers.AutoModelForCausalLM if kind == "qwen2" else transformers.AutoModelForImageTextToText
    kwargs: dict[str, Any] = {"dtype": dtype} if dtype is not None else {}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    model = cls.from_pretrained(path, **kwargs)
    model.eval()
    return model, load_processor(path)


def _read_marker(path: Path) -> dict[str, Any]:
    kind = tiny_kind(path)
    if kind is None:
        from vlmr1.errors import ConfigError

        raise ConfigError(f"{path} is not a tiny model directory (no {MARKER}, no image-only Qwen processor); "
                          "build one with vlmr1.trainers.tiny.build_tiny_model(kind, out_dir).")
    return {"kind": kind}


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        import difflib

        from vlmr1.errors import ConfigError

        close = difflib.get_close_matches(str(kind), KINDS, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown tiny model kind {kind!r}.{hint} Choose one of: {', '.join(KINDS)}.")
