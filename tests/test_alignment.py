"""Each reward sees exactly its own row: proved through real GRPO steps.

The configuration is the one in which VLM-R1 went wrong: several distinct prompts in
one device batch, several generations each. Every row carries an id that is also
written into its prompt text, a solution and an image size that belong to it alone,
and an image whose pixel size is that image size. Inside the reward call every
completion's prompt, id, solution, image size and image are compared; a mismatch is
recorded, and the test asserts there are none.

The same check, applied to the pairing VLM-R1 used (rows repeated num_generations
times on top of the sampler's own repetition, so completion i got row i // G), finds
the mismatches: the check is able to fail.
"""

from __future__ import annotations

import copy
import re

import pytest

pytest.importorskip("trl")
torch = pytest.importorskip("torch")

from vlmr1.trainers import tiny  # noqa: E402
from vlmr1.trainers.grpo import Runtime, grpo_config  # noqa: E402
from vlmr1.trl import trl_dataset  # noqa: E402

G = 2  # generations per prompt
PER_DEVICE = 6  # completions per device batch: 3 distinct prompts x 2
N_ROWS = 12


class _Template:
    def render(self, question):
        return [{"role": "system", "content": "Answer with a box."}, {"role": "user", "content": question}]


def _size(i: int) -> tuple[int, int]:
    return (60 + 13 * i, 40 + 7 * i)  # every row its own non-square size


def _rows(tmp_path):
    from PIL import Image

    rows = []
    for i in range(N_ROWS):
        path = tmp_path / f"img{i}.png"
        Image.new("RGB", _size(i), (20 * i % 255, 90, 160)).save(path)
        rows.append({
            "id": f"r{i}", "task": "rec", "image": str(path), "image_size": list(_size(i)),
            "problem": f"Find the square in picture r{i}.", "solution": [i, i + 1, i + 10, i + 11],
        })
    return rows


@pytest.fixture(scope="module")
def vl_model():
    return tiny.build("qwen2-vl", seed=0)


def _prompt_text(prompt) -> str:
    """The user text of a TRL prompt (messages whose content may be typed blocks with images)."""
    user = [m for m in prompt if m["role"] == "user"][-1]["content"]
    if isinstance(user, str):
        return user
    return " ".join(part["text"] for part in user if part.get("type") == "text")


def _prompt_images(prompt) -> list:
    user = [m for m in prompt if m["role"] == "user"][-1]["content"]
    return [] if isinstance(user, str) else [p["image"] for p in user if p.get("type") == "image"]


def check_alignment(prompts, ids, solutions, image_sizes, by_id) -> list[str]:
    """Mismatches between what a reward was handed for completion i and row ids[i]."""
    bad = []
    for i, (prompt, rid, sol, size) in enumerate(zip(prompts, ids, solutions, image_sizes, strict=True)):
        row = by_id[rid]
        asked = re.search(r"picture (r\d+)", _prompt_text(prompt)).group(1)
        images = _prompt_images(prompt)
        if asked != rid:
            bad.append(f"{i}: prompt of {asked}, id {rid}")
        if list(sol) != row["solution"]:
            bad.append(f"{i}: solution {sol} is not {rid}'s")
        if list(size) != row["image_size"]:
            bad.append(f"{i}: image_size {size} is not {rid}'s")
        if [im.size for im in images] != [tuple(row["image_size"])]:
            bad.append(f"{i}: image of size {[im.size for im in images]} in the prompt of {rid}")
    return bad


class Probe:
    """A reward that checks alignment on every call and records what it saw."""

    def __init__(self, rows):
        self.by_id = {r["id"]: r for r in rows}
        self.calls: list[list[str]] = []
        self.mismatches: list[str] = []
        self.vlm_r1_mismatches: list[str] = []
        self.__name__ = "alignment_probe"

    def __call__(self, prompts, completions, id, solution, image_size, **kwargs):
        self.calls.append(list(id))
        self.mismatches += check_alignment(prompts, id, solution, image_size, self.by_id)
        # VLM-R1's pairing: its reward kwargs repeated every input G times although the
        # sampler had already repeated each prompt G times; completion i got entry i.
        rep = lambda col: [x for x in col for _ in range(G)][: len(col)]  # noqa: E731
        self.vlm_r1_mismatches += check_alignment(prompts, rep(id), rep(solution), rep(image_size), self.by_id)
        return [float(len(str(c))) % 3 for c in completions]


def _train(tmp_path, model, processor, probe, rows, **grpo):
    from trl import GRPOTrainer

    settings = dict(per_device_train_batch_size=PER_DEVICE, num_generations=G, max_completion_length=8,
                    max_steps=2, gradient_accumulation_steps=2, seed=11)
    settings.update(grpo)
    args = grpo_config(settings, output_dir=str(tmp_path / "out"), runtime=Runtime("cpu", False, None))
    trainer = GRPOTrainer(model=model, reward_funcs=[probe], args=args,
                          train_dataset=trl_dataset(rows, lambda row: _Template()), processing_class=processor)
    trainer.train()
    return trainer


def test_every_reward_call_sees_its_own_rows(tmp_path, vl_model):
    model, processor = vl_model
    rows = _rows(tmp_path)
    probe = Probe(rows)
    _train(tmp_path, copy.deepcopy(model), processor, probe, rows)
    # 2 optimizer steps x 2 accumulation steps x 6 completions, generated in 2 batches of 12
    assert [len(c) for c in probe.calls] == [12, 12]
    for call in probe.calls:
        groups = [call[k:k + G] for k in range(0, len(call), G)]
        assert all(len(set(g)) == 1 for g in groups), call  # generations of one prompt are adjacent
        assert len({g[0] for g in groups}) == len(groups) == 6  # six distinct prompts per generation batch
        # and each device batch of 6 completions holds 3 distinct prompts
        assert all(len(set(call[k:k + PER_DEVICE])) == PER_DEVICE // G for k in range(0, len(call), PER_DEVICE))
    assert probe.mismatches == []


def test_the_check_catches_vlm_r1_pairing(tmp_path, vl_model):
    model, processor = vl_model
    rows = _rows(tmp_path)
    probe = Probe(rows)
    _train(tmp_path, copy.deepcopy(model), processor, probe, rows, max_steps=1)
    assert probe.mismatches == []
    # completion i paired with entry i//G of the already-repeated batch (12 completions, G=2):
    # completions 0,1 get entry 0 (right), 2,3 get entry 1 (still the first prompt's row),
    # 4,5 entry 2 (the second prompt's row), ... so 10 of 12 completions are scored against
    # another row's id, solution and image size, which disagree with the prompt and the image
    # the completion was generated from: 2 mismatches each, 20 in all.
    assert len(probe.vlm_r1_mismatches) == 20
    assert sum(": prompt of " in m for m in probe.vlm_r1_mismatches) == 10
    assert sum(": image of size " in m for m in probe.vlm_r1_mismatches) == 10


# -- the same guarantee through vlmr1's own path: config -> engine -> TRL -----------------

from vlmr1.hookspecs import hookimpl  # noqa: E402
from vlmr1.types import Reward, Verdict  # noqa: E402


def _row_index(rid: str) -> int:
    return int(rid[1:])


def aligned_verdict(sample) -> Verdict:
    """1.0 when everything a Sample carries belongs to the row its prompt asked about."""
    text = _prompt_text(sample.prompt)
    asked = re.search(r"picture (r\d+)", text).group(1)
    i = _row_index(asked)
    wrong = []
    if sample.id != asked:
        wrong.append(f"id {sample.id}")
    if list(sample.solution) != [i, i + 1, i + 10, i + 11]:
        wrong.append(f"solution {sample.solution}")
    if tuple(sample.image_size) != _size(i):
        wrong.append(f"image_size {sample.image_size}")
    if sample.input_size is None:
        wrong.append("no input_size")
    if not str(sample.image).endswith(f"img{i}.png"):
        wrong.append(f"image {sample.image}")
    parts = [p for m in sample.prompt if isinstance(m["content"], list) for p in m["content"] if p.get("type") == "image"]
    if len(parts) != 1 or "image" in parts[0] or "images" in sample.columns:
        wrong.append("image parts missing or pixels shipped to the reward")  # paths and sizes suffice
    return Verdict(0.0, f"misaligned for {asked}: {', '.join(wrong)}") if wrong else Verdict(1.0, "aligned")


def _align_batch(samples, golds, params):
    return [aligned_verdict(s) for s in samples]


def _align_one(sample, gold, params):
    return aligned_verdict(sample)


class AlignmentPlugin:
    @hookimpl
    def register_rewards(self, register):
        register(Reward("align_inline", score_batch=_align_batch, cheap=True))
        register(Reward("align_isolated", score=_align_one))  # scored in a worker process


def test_engine_rewards_see_their_own_rows_in_real_steps(tmp_path, vl_model):
    from vlmr1.config import config_from_dict
    from vlmr1.testing import registered
    from vlmr1.trainers.grpo import build_trainer

    model, processor = vl_model
    from vlmr1.trainers import data

    data_rows = data.add_image_sizes(_rows(tmp_path), processor)
    config = config_from_dict({
        "task": "rec",
        "rewards": [{"name": "align_inline"}, {"name": "align_isolated"}],
        "engine": {"workers": 1, "timeout": 20},
        "grpo": {"per_device_train_batch_size": PER_DEVICE, "num_generations": G, "max_completion_length": 8,
                 "max_steps": 2, "gradient_accumulation_steps": 2, "seed": 5},
    })
    with registered(AlignmentPlugin(), first_party=True, name="align") as reg:
        with build_trainer(config, rows=data_rows, model=copy.deepcopy(model), processor=processor,
                           runtime=Runtime("cpu", False, None), output_dir=tmp_path / "out", registry=reg) as built:
            built.trainer.train()
            logs = built.trainer._logs
            history = [h for h in built.trainer.state.log_history if "reward" in h]
    # every logged step: each column's batch mean is exactly 1.0 (every completion aligned)
    assert len(history) == 2
    for step in history:
        assert step["rewards/align_inline/mean"] == 1.0 and step["rewards/align_isolated/mean"] == 1.0
    # and TRL's per-completion log of the last generation batch (12 completions)
    for name in ("align_inline", "align_isolated"):
        assert list(logs["rewards"][name]) == [1.0] * 12, list(logs["extra"].get(f"reason/{name}", []))
        assert set(logs["extra"][f"reason/{name}"]) == {"aligned"}


def test_aligned_verdict_can_fail(tmp_path):
    """The probe is not vacuous: a sample carrying another row's solution is caught."""
    from vlmr1.types import Sample

    prompt = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Find the square in picture r3."}]}]
    good = Sample("x", solution=[3, 4, 13, 14], prompt=prompt, id="r3", image="/d/img3.png",
                  image_size=_size(3), input_size=(56, 56))
    assert aligned_verdict(good).score == 1.0
    bad = Sample("x", solution=[2, 3, 12, 13], prompt=prompt, id="r2", image="/d/img2.png",
                 image_size=_size(2), input_size=(56, 56))
    verdict = aligned_verdict(bad)
    assert verdict.score == 0.0 and "id r2" in verdict.reason and "solution" in verdict.reason
