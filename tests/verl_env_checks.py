"""Checks that run INSIDE a throwaway virtual environment with verl 0.9.1 and Ray installed
(built by tests/test_heavy.py; verl pins transformers below what vlmr1[train] needs, so the
two cannot share one environment). Not collected by the default test run.

verl's own code does the calling: its reward-function loader (``get_custom_reward_fn``), its
reward-loop ``naive`` manager, and the legacy ``naive`` / ``batch`` / ``prime`` / ``dapo``
managers on a real ``DataProto`` with a real (byte-level, built offline) tokenizer. Expected
rewards are worked out by hand."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

import numpy as np
import pytest
import torch
from trainer_cases import BOX, RIGHT, WRONG, write_config

HERE = os.path.dirname(os.path.abspath(__file__))
# (data_source, response, ground truth, extra_info, expected score, expected accuracy, expected box)
ROWS = [
    ("openai/gsm8k", RIGHT, "4", {}, 1.5, 1.0, None),
    ("openai/gsm8k", WRONG, "4", {}, 0.5, 0.0, None),
    ("vlmr1/rec", BOX, "[10, 10, 50, 50]", {"image_size": [100, 100]}, 1.5, None, 1.0),
    ("openai/gsm8k", "no tags", "4", {}, 0.0, 0.0, None),
]


def tokenizer():
    """A byte-level BPE tokenizer without merges: every text round-trips exactly."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {ch: i for i, ch in enumerate(sorted(alphabet))}
    vocab["<pad>"] = len(vocab)
    vocab["<|im_end|>"] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<|im_end|>")


def data_proto(tok, rows=ROWS):
    """What verl's rollout hands its reward manager: left-padded prompts, right-padded responses."""
    from verl import DataProto

    prompts = [tok.encode("Q:") for _ in rows]
    responses = [tok.encode(r[1]) for r in rows]
    p_len, r_len = max(map(len, prompts)), max(map(len, responses)) + 3
    pad = tok.pad_token_id
    p_ids = torch.tensor([[pad] * (p_len - len(p)) + p for p in prompts])
    r_ids = torch.tensor([r + [pad] * (r_len - len(r)) for r in responses])
    mask = torch.cat([torch.tensor([[0] * (p_len - len(p)) + [1] * len(p) for p in prompts]),
                      torch.tensor([[1] * len(r) + [0] * (r_len - len(r)) for r in responses])], dim=1)
    return DataProto.from_dict(
        tensors={"prompts": p_ids, "responses": r_ids, "attention_mask": mask,
                 "input_ids": torch.cat([p_ids, r_ids], dim=1)},
        non_tensors={"data_source": np.array([r[0] for r in rows], dtype=object),
                     "reward_model": np.array([{"ground_truth": r[2], "style": "rule"} for r in rows], dtype=object),
                     "extra_info": np.array([dict(r[3]) for r in rows], dtype=object)},
    ), [len(r) for r in responses]


@pytest.fixture(scope="module")
def config_path(tmp_path_factory):
    return str(write_config(tmp_path_factory.mktemp("verl")))


def loaded_fn(config_path, name="compute_score"):
    """verl's own loader: custom_reward_function.path / name / reward_kwargs."""
    from omegaconf import OmegaConf
    from verl.trainer.ppo.reward import get_custom_reward_fn

    cfg = OmegaConf.create({"reward": {"custom_reward_function": {
        "path": "pkg://vlmr1.trainers.verl", "name": name, "reward_kwargs": {"config": config_path}}}})
    return get_custom_reward_fn(cfg)


def test_versions():
    import transformers
    import verl

    assert verl.__version__ == "0.9.1", verl.__version__
    assert "torch" not in sys.modules or True  # torch is verl's; vlmr1's core must not need it:
    out = os.popen(f"{sys.executable} -c \"import sys, vlmr1, vlmr1.trainers.verl, vlmr1.remote; "
                   "print('torch' in sys.modules)\"").read().strip()
    assert out == "False", out
    print("verl", verl.__version__, "transformers", transformers.__version__)


def check_rewards(tensor, lengths, extra=None):
    for i, row in enumerate(ROWS):
        assert tensor[i, lengths[i] - 1].item() == pytest.approx(row[4]), (i, tensor[i])
        assert tensor[i].sum().item() == pytest.approx(row[4])  # on the last response token only
    if extra is not None:
        assert list(extra["accuracy"]) == [r[5] for r in ROWS]
        assert list(extra["box"]) == [r[6] for r in ROWS]  # None where it does not apply, never NaN


@pytest.mark.parametrize("manager", ["naive", "batch", "dapo"])
def test_legacy_managers(manager, config_path):
    from verl.workers.reward_manager import get_reward_manager_cls

    tok = tokenizer()
    cls = get_reward_manager_cls(manager)
    kwargs = {"max_resp_len": 512} if manager == "dapo" else {}
    rm = cls(tokenizer=tok, num_examine=0, compute_score=loaded_fn(config_path), reward_fn_key="data_source", **kwargs)
    data, lengths = data_proto(tok)
    out = rm(data, return_dict=True)
    check_rewards(out["reward_tensor"], lengths, out["reward_extra_info"])


def test_legacy_prime_gets_a_float(config_path):
    from verl.workers.reward_manager import get_reward_manager_cls

    tok = tokenizer()
    rm = get_reward_manager_cls("prime")(tokenizer=tok, num_examine=0,
                                         compute_score=loaded_fn(config_path, "compute_score_float"))
    data, lengths = data_proto(tok)
    check_rewards(rm(data, return_dict=True)["reward_tensor"], lengths)


def test_reward_loop_naive_manager_sync_and_async(config_path):
    from omegaconf import OmegaConf
    from verl.experimental.reward_loop.reward_manager import get_reward_manager_cls

    tok = tokenizer()
    cls = get_reward_manager_cls("naive")
    for name in ("compute_score", "compute_score_async"):
        asyncio.set_event_loop(asyncio.new_event_loop())  # the reward loop's worker owns a running loop
        rm = cls(OmegaConf.create({}), tok, loaded_fn(config_path, name))
        data, _ = data_proto(tok)

        async def run_all():
            return await asyncio.gather(*[rm.run_single(data[i:i + 1]) for i in range(len(data))])

        results = rm.loop.run_until_complete(run_all())
        assert [r["reward_score"] for r in results] == pytest.approx([r[4] for r in ROWS]), name
        assert [r["reward_extra_info"]["box"] for r in results] == [r[6] for r in ROWS]


def test_batch_is_not_a_reward_loop_manager():
    """What docs/verl.md once advised: verl 0.9.1's reward loop has no `batch` manager."""
    from verl.experimental.reward_loop.reward_manager import get_reward_manager_cls

    with pytest.raises(ValueError, match="Unknown reward manager: batch"):
        get_reward_manager_cls("batch")


def test_validation_metrics_skip_none(config_path):
    from verl.trainer.ppo.metric_utils import process_validation_metrics

    fn = loaded_fn(config_path)
    scores = [fn(data_source=r[0], solution_str=r[1], ground_truth=r[2], extra_info=dict(r[3])) for r in ROWS]
    infos = {key: [s[key] for s in scores] for key in scores[0]}
    metrics = process_validation_metrics(["all"] * len(ROWS), ["u"] * len(ROWS), infos)
    flat = [float(v) for var in metrics["all"].values() for v in var.values()]
    assert flat and all(np.isfinite(flat))
    assert metrics["all"]["box"]["mean@1"] == 1.0  # over the one row it applies to
    assert metrics["all"]["accuracy"]["mean@3"] == pytest.approx(1 / 3)
    # what NaN (the old answer) did to the same metric
    infos["box"] = [float("nan") if v is None else v for v in infos["box"]]
    nan_metrics = process_validation_metrics(["all"] * len(ROWS), ["u"] * len(ROWS), infos)
    assert np.isnan(nan_metrics["all"]["box"]["mean@4"])


def test_engine_in_a_ray_actor_forks_workers_times_out_and_survives():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": HERE, "VLMR1_PLUGINS": ""}})
    try:
        @ray.remote
        class RewardWorker:
            def __init__(self):
                import fault_plugins
                from vlmr1.config import config_from_dict
                from vlmr1.engine import Engine

                cfg = config_from_dict({"rewards": [{"name": "faulty"}, {"name": "pids"}],
                                        "engine": {"workers": 2, "timeout": 2.0}})
                self.engine = Engine(cfg, fault_plugins.fault_registry())

            def score(self, completions):
                t = time.monotonic()
                result = self.engine.score([{"completion": c, "solution": "g"} for c in completions])
                parents = {}
                for v in result.verdicts["pids"]:
                    pid = v.details["pid"]
                    with open(f"/proc/{pid}/stat") as fh:
                        parents[pid] = int(fh.read().rsplit(")", 1)[1].split()[1])
                return {"faulty": result.columns["faulty"], "reasons": result.reasons["faulty"],
                        "parents": parents, "me": os.getpid(), "seconds": time.monotonic() - t}

        worker = RewardWorker.remote()
        first = ray.get(worker.score.remote(["ok", "hang", "fine"]), timeout=120)
        assert first["reasons"][1] == "timeout" and first["faulty"][1] is None
        assert first["faulty"][0] == 1.0 and first["faulty"][2] == 0.5  # len % 3 / 2: "ok" 2 -> 1.0, "fine" 4 -> 0.5
        assert first["seconds"] < 10
        assert set(first["parents"].values()) == {first["me"]}  # pool workers forked from the actor
        assert first["me"] not in first["parents"]
        again = ray.get(worker.score.remote(["abcd"]), timeout=60)  # the actor survived
        assert again["faulty"] == [0.5] and again["me"] == first["me"]
    finally:
        ray.shutdown()


def test_remote_compute_score_against_a_service(config_path):
    """verl's loader pointed at vlmr1.remote, scored by a `vlmr1 serve` process."""
    import subprocess

    # the service runs in this interpreter: the serve extra must be here (tests/test_heavy.py's
    # environments inherit it), and a missing one fails this check rather than skipping it
    missing = subprocess.run([sys.executable, "-c", "import uvicorn, starlette, prometheus_client"],
                             capture_output=True, text=True)
    assert missing.returncode == 0, f"vlmr1[serve] is not installed here: {missing.stderr[-500:]}"
    from serve_tools import Server

    with Server(config_path) as server:
        from omegaconf import OmegaConf
        from verl.trainer.ppo.reward import get_custom_reward_fn
        from verl.workers.reward_manager import get_reward_manager_cls

        cfg = OmegaConf.create({"reward": {"custom_reward_function": {
            "path": "pkg://vlmr1.remote", "name": "compute_score", "reward_kwargs": {"url": server.url}}}})
        tok = tokenizer()
        rm = get_reward_manager_cls("batch")(tokenizer=tok, num_examine=0, compute_score=get_custom_reward_fn(cfg))
        data, lengths = data_proto(tok)
        out = rm(data, return_dict=True)
        check_rewards(out["reward_tensor"], lengths, out["reward_extra_info"])
