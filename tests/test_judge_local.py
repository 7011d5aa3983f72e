"""The in-process transformers judge, exercised for real with tiny Qwen2 models built
offline: a byte-level BPE tokenizer trained in code and random weights (whose garbage
must come back as judge_unparseable), and a rigged one whose every token is
"VERDICT: 1\\n" (so the success path is exercised too)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vlmr1.plugins.judge import local
from vlmr1.plugins.judge.backend import reset_backends
from vlmr1.plugins.judge.cache import clear_shared_caches
from vlmr1.plugins.judge.rewards import consistency_ascore
from vlmr1.types import Sample

CORPUS = ["the reasoning says response one is better so the answer is two", "judge the data model output verdict"] * 20


def build_tiny_judge(path: Path, rigged: str | None = None, seed: int = 0) -> Path:
    """A tiny Qwen2 causal LM with a tokenizer trained here. Rigged, token id 0 is
    ``"VERDICT: 1\\n"``: ``"endless"`` repeats it until ``max_tokens`` (the final norm is
    zero, so every logit is 0 and greedy decoding picks id 0); ``"stops"`` says it once and
    then ends its turn (the layers add nothing, and the output head maps any token to id 0
    and id 0 to the end-of-turn token)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    if rigged:
        data = json.loads(tok.to_str())
        vocab = {"VERDICT:Ġ1Ċ": 0}  # byte-level spelling of "VERDICT: 1\n"
        for token, _ in sorted(data["model"]["vocab"].items(), key=lambda kv: kv[1]):
            vocab[token] = len(vocab)
        data["model"]["vocab"] = vocab
        tok = Tokenizer.from_str(json.dumps(data))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok)
    fast.add_special_tokens({"pad_token": "<|endoftext|>", "eos_token": "<|im_end|>"})
    fast.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "<|im_start|>assistant\n"
    )
    fast.save_pretrained(path)
    cfg = Qwen2Config(
        vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=8192, pad_token_id=fast.pad_token_id,
        eos_token_id=fast.eos_token_id, tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(cfg)
    if rigged == "endless":
        with torch.no_grad():
            model.model.norm.weight.zero_()  # all logits 0: greedy picks id 0 every step
    elif rigged == "stops":
        with torch.no_grad():
            for layer in model.model.layers:  # the residual stream is the token's embedding alone
                layer.self_attn.o_proj.weight.zero_()
                layer.mlp.down_proj.weight.zero_()
            emb, head = model.model.embed_tokens.weight, model.lm_head.weight
            emb.zero_()
            emb[:, 0] = 1.0  # every token: direction 0 ...
            emb[0, 0], emb[0, 1] = 0.0, 1.0  # ... except "VERDICT: 1\n": direction 1
            head.zero_()
            head[0, 0] = 10.0  # direction 0 -> say the verdict
            head[fast.eos_token_id, 1] = 10.0  # direction 1 -> end the turn
    model.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("judges")
    return {
        "random": build_tiny_judge(root / "random"),
        "rigged": build_tiny_judge(root / "rigged", rigged="stops"),
        "endless": build_tiny_judge(root / "endless", rigged="endless"),
    }


@pytest.fixture(autouse=True)
def _fresh():
    clear_shared_caches()
    reset_backends()
    yield
    reset_backends()


SAMPLES = [
    Sample("<think>Response 1 misses the point, so Response 2 is better.</think><answer>2</answer>"),
    Sample("<think>Response 2 is better.</think><answer>1</answer>"),
    Sample("<think>Both fine; response 2 is better.</think><answer>2</answer>"),
    Sample("<answer>1</answer>"),
]


def run(samples, **params):
    t = time.monotonic()
    out = asyncio.run(consistency_ascore(samples, {"backend": "transformers", **params}))
    return out, time.monotonic() - t


def test_random_weights_give_unparseable_never_a_crash(tiny_dirs):
    path = str(tiny_dirs["random"])
    assert not any(key[0] == path for key in local._MODELS)  # nothing loaded before the first batch
    verdicts, _ = run(SAMPLES, model_path=path, max_tokens=12, batch_size=2, deadline_s=60)
    # garbage never reads as a verdict: cut off at max_tokens, or ended without one
    assert all(v.reason in ("judge_truncated", "judge_unparseable") for v in verdicts[:3])
    assert verdicts[3].reason == "no_reasoning"
    assert all(v.score is None for v in verdicts)
    assert any(key[0] == path for key in local._MODELS)


def test_rigged_model_gives_verdicts_through_the_chat_template(tiny_dirs):
    verdicts, _ = run(SAMPLES, model_path=str(tiny_dirs["rigged"]), max_tokens=3, batch_size=2, deadline_s=60)
    assert [(v.score, v.reason) for v in verdicts[:3]] == [(1.0, "supported")] * 3
    from vlmr1.plugins.judge.backend import all_stats

    stats = next(s for name, s in all_stats().items() if name.startswith("transformers:"))
    assert stats["requests"] == 3 and stats["completion_tokens"] == 6  # the verdict and the end of turn


def test_a_reply_cut_off_at_max_tokens_is_not_a_verdict(tiny_dirs):
    """The endless judge's last line reads ``VERDICT: 1``, but it never finished."""
    verdicts, _ = run(SAMPLES, model_path=str(tiny_dirs["endless"]), max_tokens=3, batch_size=2, deadline_s=60)
    assert [(v.score, v.reason) for v in verdicts[:3]] == [(None, "judge_truncated")] * 3
    assert verdicts[0].details["failure"] == "error"


def test_deadline_stops_generation(tiny_dirs):
    path = str(tiny_dirs["random"])
    run(SAMPLES[:1], model_path=path, max_tokens=2, deadline_s=60)  # load outside the timed call
    many = [Sample(f"<think>Item {i}: response 2 is better.</think><answer>2</answer>") for i in range(8)]
    verdicts, took = run(many, model_path=path, max_tokens=6000, batch_size=4, deadline_s=0.8)
    assert took < 0.8 + 1.0
    assert [v.reason for v in verdicts] == ["judge_timeout"] * 8
    # the backend is free again: the cut-short generation did not keep running
    verdicts, took = run(SAMPLES[:1], model_path=path, max_tokens=4, deadline_s=30)
    assert verdicts[0].reason in ("judge_truncated", "judge_unparseable") and took < 10


def test_bad_model_path_is_a_reason_not_a_crash(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    verdicts, _ = run(SAMPLES[:2], model_path=str(tmp_path), deadline_s=30)
    assert all(v.score is None and v.reason.startswith("judge_error: ") for v in verdicts)


def test_importing_the_plugin_is_light():
    code = (
        "import sys, vlmr1.plugins.judge, vlmr1.plugins.judge.rewards, vlmr1.plugins.judge.presets;"
        "print(sorted(m for m in ('httpx', 'torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
