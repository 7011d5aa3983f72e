"""Checks that run INSIDE a throwaway environment with OpenRLHF 0.11.2 installed without its
dependencies (built by tests/test_heavy.py: its training stack needs vLLM, DeepSpeed and the
CUDA build of flash-attn; its reward calling code needs only aiohttp). Not collected by the
default test run.

OpenRLHF's own ``SingleTurnAgentExecutor`` does the calling: it loads our reward_func file
with its own importlib code and calls it in threads, and it posts to a real `vlmr1 serve`
with its own aiohttp client. Expected rewards are worked out by hand."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest
import torch
from trainer_cases import BOX, REC_LABEL, RIGHT, WRONG, use_config

PROMPT = "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
QUERIES = [PROMPT + RIGHT + "<|im_end|>", PROMPT + WRONG + "<|im_end|>", "P" + BOX]
PROMPTS = [PROMPT, PROMPT, "P"]
LABELS = ["4", json.dumps({"solution": "4", "task": "math"}), REC_LABEL]
EXPECTED = [1.5, 0.5, 1.5]


@pytest.fixture()
def config(tmp_path, monkeypatch):
    return use_config(tmp_path, monkeypatch)


def as_experience_info(info):
    """What OpenRLHF's samples generator does with one answer (torch.tensor of each value)."""
    out = {"reward": torch.tensor([info["rewards"]]), "score": torch.tensor([info["scores"]])}
    for key, value in info["extra_logs"].items():
        out[key] = torch.tensor([value])
    return out


def test_reward_func_file_through_the_agent_executor(config):
    import openrlhf
    from openrlhf.utils.agent import SingleTurnAgentExecutor
    from vlmr1.trainers import openrlhf as ours

    print("openrlhf", getattr(openrlhf, "__version__", "0.11.2"))
    executor = SingleTurnAgentExecutor(remote_rm_url=ours.__file__)
    assert executor.reward_func is not None
    async def each():
        return await asyncio.gather(*[executor._fetch_rewards_via_func([q], [p], [lab])
                                      for q, p, lab in zip(QUERIES, PROMPTS, LABELS)])

    infos = asyncio.run(each())
    got = [info[0]["rewards"] for info in infos]
    assert got == [[r] for r in EXPECTED]
    for info in infos:
        assert all(torch.isfinite(t).all() for t in as_experience_info(info[0]).values())


def test_remote_rm_url_against_vlmr1_serve(config):
    from openrlhf.utils.agent import SingleTurnAgentExecutor

    # the service runs in this interpreter: the serve extra must be here (tests/test_heavy.py's
    # environments inherit it), and a missing one fails this check rather than skipping it
    missing = subprocess.run([sys.executable, "-c", "import uvicorn, starlette, prometheus_client"],
                             capture_output=True, text=True)
    assert missing.returncode == 0, f"vlmr1[serve] is not installed here: {missing.stderr[-500:]}"
    from serve_tools import Server

    with Server(config) as server:
        executor = SingleTurnAgentExecutor(remote_rm_url=f"{server.url}/get_reward")
        one = asyncio.run(executor._fetch_rewards_via_http(QUERIES, PROMPTS, LABELS))
        assert one[0]["rewards"] == EXPECTED and one[0]["scores"] == EXPECTED
        assert one[0]["extra_logs"]["box"] == [0.0, 0.0, 1.0]  # --na-reward 0.0 where box does not apply
        async def each():
            return await asyncio.gather(*[executor._fetch_rewards_via_http([q], [p], [lab])
                                          for q, p, lab in zip(QUERIES, PROMPTS, LABELS)])

        singles = asyncio.run(each())
        assert [s[0]["rewards"] for s in singles] == [[r] for r in EXPECTED]
        assert all(torch.isfinite(t).all() for s in singles for t in as_experience_info(s[0]).values())
