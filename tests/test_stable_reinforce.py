"""StableReinforce: each option changes the loss or the advantages exactly as
R1-Reward specifies, and with the options off the trainer is GRPOTrainer bit for bit."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
trl = pytest.importorskip("trl")

from vlmr1.errors import ConfigError  # noqa: E402
from vlmr1.trainers.stable import (  # noqa: E402
    StableReinforceOptions,
    StableReinforceTrainer,
    filter_local_advantages,
    pre_clipped,
    sigma_keep_mask,
)

LOG_1E3 = math.log(1e3)


# -- a tiny causal LM with a word-level tokenizer (text prompts suffice here) --------------


def _tiny_lm():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    words = ["<pad>", "<eos>", "<unk>"] + "a b c d e f g h the box is at red blue 1 2 3 4 5 6 7 8 9 0".split()
    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")
    tok.padding_side = "left"
    cfg = Qwen2Config(
        vocab_size=len(words), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
        pad_token_id=0, eos_token_id=1, bos_token_id=1, tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    return Qwen2ForCausalLM(cfg), tok


def _dataset(n=8):
    from datasets import Dataset

    return Dataset.from_list([{"prompt": f"the box is {w}", "id": str(i)} for i, w in enumerate("abcdefgh"[:n])])


def _args(tmp_path, **kw):
    from trl import GRPOConfig

    base = dict(
        output_dir=str(tmp_path), use_cpu=True, bf16=False, per_device_train_batch_size=4, num_generations=2,
        max_completion_length=6, max_steps=2, report_to=[], activation_checkpointing=False, logging_steps=1,
        save_strategy="no", seed=7,
    )
    base.update(kw)
    return GRPOConfig(**base)


def _length_reward(completions, **kwargs):
    return [float(len(c)) for c in completions]


def _trainer(cls, tmp_path, reward=_length_reward, options=None, **kw):
    model, tok = _tiny_lm()
    extra = {} if cls is trl.GRPOTrainer else {"stable_reinforce": options}
    return cls(model=model, reward_funcs=[reward], args=_args(tmp_path, **kw), train_dataset=_dataset(),
               processing_class=tok, **extra)


# -- options ------------------------------------------------------------------------------


def test_defaults_are_r1_reward_bounds_and_off():
    o = StableReinforceOptions()
    assert (o.pre_clip, o.advantage_filter, o.active) == (False, False, False)
    assert o.log_ratio_min == pytest.approx(math.log(1e-3)) and o.log_ratio_max == pytest.approx(LOG_1E3)
    assert o.advantage_sigma == 3.0


@pytest.mark.parametrize(
    "data, words",
    [({"pre_clip": True, "clip": 1}, "unknown option(s) clip"),
     ({"log_ratio_min": 1.0, "log_ratio_max": 0.0}, "must be below"),
     ({"advantage_sigma": 0}, "must be positive")],
)
def test_bad_options_are_config_errors(data, words):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        StableReinforceOptions.from_mapping(data)


# -- the 3-sigma filter on small tensors -------------------------------------------------


def test_sigma_mask_by_hand():
    # 19 zeros and one 10: mean 0.5, var = (19*0.25 + 9.5**2)/20 = 4.75, std 2.1794, 3*std 6.538.
    # |10 - 0.5| = 9.5 > 6.538 -> outlier; |0 - 0.5| = 0.5 -> kept.
    adv = torch.tensor([0.0] * 19 + [10.0])
    keep = sigma_keep_mask(adv, 3.0)
    assert keep.tolist() == [True] * 19 + [False]
    # with sigma 5 (10.9) nothing is an outlier
    assert sigma_keep_mask(adv, 5.0).all()
    # all equal: std 0, nothing filtered
    assert sigma_keep_mask(torch.full((6,), 0.7), 3.0).all()


def test_filter_uses_the_whole_gathered_batch_not_the_process_slice():
    # Two processes, 8 completions each. Process 0: eight zeros. Process 1: six zeros, 2, 9.
    # Whole batch (16): sum 11, sum of squares 85 -> mean 0.6875, var 85/16 - 0.6875**2 = 4.8398,
    #   std 2.2000, 3*std 6.600; |9 - 0.6875| = 8.3125 > 6.6 -> zeroed; |2 - 0.6875| = 1.31 kept.
    # Process 1 alone (8): mean 1.375, var 85/8 - 1.375**2 = 8.7344, std 2.9554, 3*std 8.866;
    #   |9 - 1.375| = 7.625 < 8.866 -> a per-process filter would have kept it.
    p0 = torch.zeros(8)
    p1 = torch.tensor([0.0] * 6 + [2.0, 9.0])
    gathered = torch.cat([p0, p1])
    out1, zeroed = filter_local_advantages(p1, gathered, process_index=1, sigma=3.0)
    assert out1.tolist() == [0.0] * 6 + [2.0, 0.0]
    assert zeroed == 1
    out0, _ = filter_local_advantages(p0, gathered, process_index=0, sigma=3.0)
    assert torch.equal(out0, p0)
    per_process, _ = filter_local_advantages(p1, p1, process_index=0, sigma=3.0)
    assert per_process.tolist() == p1.tolist()  # the bug this design avoids


def test_filter_keeps_survivors_bit_for_bit():
    adv = torch.tensor([0.1234567, -0.7654321, 0.0, 0.3333333] * 5 + [40.0])
    out, zeroed = filter_local_advantages(adv, adv, 0, 3.0)
    assert zeroed == 1 and out[-1] == 0
    assert torch.equal(out[:-1], adv[:-1])


# -- Pre-CLIP on the real TRL loss ---------------------------------------------------------


def _loss_inputs(trainer):
    """Two sequences of 3 completion tokens; old log-probs put token 1 of sequence 0 ten nats
    below the current policy (ratio e^10 = 22026), all other tokens on-policy (ratio 1)."""
    prompt_ids = torch.tensor([[3, 11, 12, 4], [3, 11, 12, 5]])
    completion_ids = torch.tensor([[6, 7, 8], [9, 10, 1]])
    mask = torch.ones_like(completion_ids)
    model = trainer.model
    trainer.current_gradient_accumulation_steps = 1  # set by Trainer.train(); we call the loss directly
    with torch.no_grad():
        logps, _, _ = trainer._get_per_token_logps_and_entropies(
            model, torch.cat([prompt_ids, completion_ids], 1), torch.ones(2, 7, dtype=torch.long), 3)
    old = logps.clone()
    old[0, 1] -= 10.0
    return {
        "prompt_ids": prompt_ids, "prompt_mask": torch.ones_like(prompt_ids),
        "completion_ids": completion_ids, "completion_mask": mask,
        "advantages": torch.tensor([-1.0, 1.0]), "old_per_token_logps": old,
        "num_items_in_batch": mask.sum(),
    }


def _r1_reward_policy_loss(log_probs, old_log_probs, advantages, mask, clip_eps=0.2, pre_clip=True):
    """R1-Reward's openrlhf/models/loss.py PolicyLoss, written out."""
    log_diff = log_probs - old_log_probs
    if pre_clip:
        log_diff = torch.clamp(log_diff, max=math.log(1e3), min=math.log(1e-3))
    ratio = torch.exp(log_diff)
    surr1 = ratio * advantages
    surr2 = ratio.clamp(1 - clip_eps, 1 + clip_eps) * advantages
    loss = -torch.min(surr1, surr2)
    return ((loss * mask).sum(-1) / mask.sum(-1)).mean()


@pytest.mark.parametrize("pre_clip", [True, False])
def test_pre_clip_loss_and_gradient_match_r1_reward(tmp_path, pre_clip):
    trainer = _trainer(StableReinforceTrainer, tmp_path, options={"pre_clip": pre_clip}, loss_type="grpo")
    inputs = _loss_inputs(trainer)
    model = trainer.model
    model.train()
    loss = trainer._compute_loss(model, inputs)
    # by hand: seq 0 (A=-1): tokens contribute 1, r, 1 with r = 1000 (clamped) or e^10; seq 1 (A=+1): -1 each.
    r = 1000.0 if pre_clip else math.exp(10.0)
    expected = ((1 + r + 1) / 3 + (-1.0)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-5)

    grads = torch.autograd.grad(loss, [p for p in model.parameters() if p.requires_grad], allow_unused=True)
    logps, _, _ = trainer._get_per_token_logps_and_entropies(
        model, torch.cat([inputs["prompt_ids"], inputs["completion_ids"]], 1), torch.ones(2, 7, dtype=torch.long), 3)
    ref = _r1_reward_policy_loss(logps, inputs["old_per_token_logps"], inputs["advantages"].unsqueeze(1),
                                 inputs["completion_mask"], pre_clip=pre_clip)
    ref_grads = torch.autograd.grad(ref, [p for p in model.parameters() if p.requires_grad], allow_unused=True)
    assert ref.item() == pytest.approx(loss.item(), rel=1e-6)
    for g, h in zip(grads, ref_grads):
        if g is None or h is None:
            assert g is None and h is None
            continue
        torch.testing.assert_close(g, h, rtol=1e-5, atol=1e-6)


def test_pre_clip_off_is_bit_identical_loss(tmp_path):
    plain = _trainer(trl.GRPOTrainer, tmp_path / "a", loss_type="grpo")
    stable = _trainer(StableReinforceTrainer, tmp_path / "b", options={"pre_clip": False, "advantage_filter": False},
                      loss_type="grpo")
    inputs = _loss_inputs(plain)
    stable.current_gradient_accumulation_steps = 1
    plain.model.train(), stable.model.train()
    assert torch.equal(plain._compute_loss(plain.model, inputs), stable._compute_loss(stable.model, dict(inputs)))


def test_pre_clipped_tensor_only_clamps_the_log_ratio():
    old = torch.tensor([0.0, -20.0, -1.0])
    wrapped = pre_clipped(old, -2.0, 2.0)
    logps = torch.tensor([-1.0, -1.0, -9.0])
    ratio = logps - wrapped
    assert type(ratio) is torch.Tensor and ratio.tolist() == [-1.0, 2.0, -2.0]
    assert (wrapped - logps).tolist() == [1.0, -19.0, 8.0]  # other direction: untouched
    assert type(wrapped * 1) is torch.Tensor and (wrapped + 0).tolist() == old.tolist()


# -- the filter inside a real generation step ---------------------------------------------


def _one_outlier_reward(completions, id, **kwargs):
    """100 for the first completion of row "0", 0 for everything else."""
    seen, out = False, []
    for row in id:
        hit = row == "0" and not seen
        seen = seen or hit
        out.append(100.0 if hit else 0.0)
    return out


def _generation_batch(trainer):
    rows = [{"prompt": f"the box is {w}", "id": str(i)} for i, w in enumerate("abcd")]
    return [dict(r) for r in rows for _ in range(trainer.num_generations)]


def test_filter_zeroes_outlier_advantage_in_a_real_step(tmp_path):
    # 4 prompts x G=4, scale_rewards="none" (advantage = reward - group mean).
    # Group of row 0: rewards [100, 0, 0, 0] -> advantages [75, -25, -25, -25]; other groups 0.
    # Batch of 16: mean 0, var (75^2 + 3*25^2)/16 = 468.75, std 21.65, 3*std 64.95:
    # 75 is zeroed, the -25s stay.
    kw = dict(per_device_train_batch_size=16, num_generations=4, scale_rewards="none")
    plain = _trainer(trl.GRPOTrainer, tmp_path / "a", reward=_one_outlier_reward, **kw)
    stable = _trainer(StableReinforceTrainer, tmp_path / "b", reward=_one_outlier_reward,
                      options={"advantage_filter": True}, **kw)
    got_plain = plain._generate_and_score_completions(_generation_batch(plain))["advantages"]
    got = stable._generate_and_score_completions(_generation_batch(stable))["advantages"]
    assert got_plain.tolist() == [75.0, -25.0, -25.0, -25.0] + [0.0] * 12
    assert got.tolist() == [0.0, -25.0, -25.0, -25.0] + [0.0] * 12
    assert stable._metrics["train"]["stable_reinforce/filtered_frac"] == [1 / 16]


# -- off means GRPOTrainer, through real training steps -----------------------------------


def _train_and_snapshot(trainer):
    trainer.train()
    params = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return params, losses


def test_options_off_train_bit_identical_to_grpo_trainer(tmp_path):
    a_params, a_losses = _train_and_snapshot(_trainer(trl.GRPOTrainer, tmp_path / "a", num_iterations=2))
    b_params, b_losses = _train_and_snapshot(_trainer(StableReinforceTrainer, tmp_path / "b", num_iterations=2))
    assert a_losses == b_losses and len(a_losses) == 2
    assert a_params.keys() == b_params.keys()
    assert all(torch.equal(a_params[k], b_params[k]) for k in a_params)


def test_both_options_on_train_end_to_end(tmp_path):
    # num_iterations=2 so TRL keeps old log-probs and the clamp is on the live path.
    trainer = _trainer(StableReinforceTrainer, tmp_path, num_iterations=2,
                       options={"pre_clip": True, "advantage_filter": True, "advantage_sigma": 1.0})
    trainer.train()
    logs = [h for h in trainer.state.log_history if "loss" in h]
    assert len(logs) == 2 and all(math.isfinite(h["loss"]) for h in logs)
    assert "stable_reinforce/filtered_frac" in logs[0]  # logged on the step that generates


# -- two real processes: the filter sees the whole gathered batch --------------------------

_DIST_SCRIPT = r'''
import json, sys, torch
from accelerate import PartialState
state = PartialState()
from datasets import Dataset
from trl import GRPOConfig
sys.path.insert(0, sys.argv[3])
from test_stable_reinforce import _tiny_lm, _one_outlier_reward
from vlmr1.trainers.stable import StableReinforceTrainer

def reward(completions, id, **kw):
    return [12.0 if r == 100.0 else 0.0 for r in _one_outlier_reward(completions, id=[("0" if i == "hot" else i) for i in id])]

model, tok = _tiny_lm()
args = GRPOConfig(output_dir=sys.argv[2], use_cpu=True, bf16=False, per_device_train_batch_size=8, num_generations=4,
                  max_completion_length=4, report_to=[], activation_checkpointing=False, scale_rewards="none",
                  save_strategy="no")
trainer = StableReinforceTrainer(model=model, reward_funcs=[reward], args=args,
                                 train_dataset=Dataset.from_list([{"prompt": "the box is a", "id": "a"}] * 4),
                                 processing_class=tok, stable_reinforce={"advantage_filter": True})
ids = ["a", "b"] if state.process_index == 0 else ["hot", "c"]
batch = [{"prompt": f"the box is {i}", "id": i} for i in ids for _ in range(4)]
local = trainer._generate_and_score_completions(batch)["advantages"]
everything = trainer.accelerator.gather(local)
if state.is_main_process:
    json.dump({"world": state.num_processes, "before": list(trainer._logs["advantages"]),
               "after": everything.tolist(),
               "filtered": trainer._metrics["train"]["stable_reinforce/filtered_frac"]}, open(sys.argv[1], "w"))
# Shut the gloo group down before exit: left to interpreter teardown, its threads can abort
# the process ("terminate called without an active exception") after the work is done.
import torch.distributed as dist
if dist.is_initialized():
    dist.barrier()
    dist.destroy_process_group()
'''


@pytest.mark.slow
def test_filter_over_two_processes_uses_the_gathered_batch(tmp_path):
    """Two processes (torchrun, gloo). Process 0: rows a, b, all rewards 0. Process 1: row "hot"
    whose first completion scores 12 (group advantages 9, -3, -3, -3) and row c (0s).
    Gathered (16): mean 0, var (81 + 3*9)/16 = 6.75, 3*std 7.79 -> the 9 is zeroed.
    Process 1 alone (8): var 108/8 = 13.5, 3*std 11.02 -> a per-process filter would keep it."""
    import json
    import os
    import socket
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "dist.py"
    script.write_text(_DIST_SCRIPT)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "out.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "VLMR1_PLUGINS": ""}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
         "--master_port", str(port), str(script), str(out), str(tmp_path / "o"), str(Path(__file__).parent)],
        capture_output=True, text=True, timeout=240, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(out.read_text())
    assert got["world"] == 2
    assert got["before"] == [0.0] * 8 + [9.0, -3.0, -3.0, -3.0] + [0.0] * 4
    assert got["after"] == [0.0] * 8 + [0.0, -3.0, -3.0, -3.0] + [0.0] * 4
    assert got["filtered"] == [1 / 16]


def test_pre_clip_acts_on_the_live_path_of_a_real_run(tmp_path):
    """num_iterations=2: the second optimizer step reuses the first step's generations, so
    TRL keeps old log-probs. With bounds of +-1e-7 every token whose probability moved
    after the first (large) update is clamped, and a clamped token has no gradient:
    step 2's gradient is exactly zero. Without Pre-CLIP it is not."""
    def grad_norms(options, sub):
        trainer = _trainer(StableReinforceTrainer, tmp_path / sub, options=options, num_iterations=2,
                           learning_rate=0.05, max_steps=2, loss_type="grpo")
        trainer.train()
        return [h["grad_norm"] for h in trainer.state.log_history if "grad_norm" in h]

    clipped = grad_norms({"pre_clip": True, "log_ratio_min": -1e-7, "log_ratio_max": 1e-7}, "a")
    plain = grad_norms({"pre_clip": False}, "b")
    assert clipped[0] > 0 and clipped[0] == pytest.approx(plain[0])  # step 1: ratio exactly 1, same as plain
    assert clipped[1] == 0.0 and plain[1] > 0
