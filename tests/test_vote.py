"""`vlmr1 vote`: Voting@k over a pairwise reward model served OpenAI-compatible (a fake,
deterministically noisy one in its own process), majority and tie rules, input shapes."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

import judge_server as js
from vlmr1.cli import main
from vlmr1.errors import ConfigError
from vlmr1.plugins.judge.backend import reset_backends
from vlmr1.plugins.judge.vote import majority, pair_from_row, read_choice, run_vote


@pytest.fixture(autouse=True)
def _fresh():
    reset_backends()
    yield
    reset_backends()


def write_pairs(path, n: int = 60, shape: str = "chosen") -> None:
    with open(path, "w") as fh:
        for i in range(n):
            good, bad = f"GOOD answer {i}", f"BAD answer {i}"
            if shape == "chosen":
                row = {"id": f"p{i}", "question": f"Question {i}?", "chosen": good, "rejected": bad}
            else:
                first = i % 2 == 0
                row = {"id": f"p{i}", "question": f"Question {i}?", "response1": good if first else bad,
                       "response2": bad if first else good, "label": 1 if first else 2}
            fh.write(json.dumps(row) + "\n")


# -- majority and parsing -------------------------------------------------------------
@pytest.mark.parametrize(
    "votes, tie_break, expected",
    [([1, 1, 2], "none", (1, False)), ([2, None, 2, 1, 1, 2], "none", (2, False)), ([1, 2], "none", (None, True)),
     ([None, None], "none", (None, True)), ([], "none", (None, True)), ([None, 2, 1], "first", (2, True)),
     ([None], "first", (None, True))],
)
def test_majority(votes, tie_break, expected):
    assert majority(votes, tie_break) == expected


def test_read_choice():
    assert read_choice("<think>x</think><answer>2</answer>") == 2
    assert read_choice("I pick 1") is None and read_choice(None) is None
    assert read_choice("<answer>1 or 2</answer>") is None


def test_row_shapes(tmp_path):
    p = pair_from_row({"question": "Q", "response1": "a", "response2": "b", "label": "2"}, 0)
    assert p.label == 2 and "[Response 1]\na" in p.messages[-1]["content"]
    p = pair_from_row({"prompt": "whole prompt", "preference": 1}, 3)
    assert p.messages == [{"role": "user", "content": "whole prompt"}] and p.label == 1 and p.id == "3"
    swaps = [pair_from_row({"id": f"r{i}", "question": "Q", "chosen": "C", "rejected": "R"}, i) for i in range(200)]
    for s in swaps:
        text = s.messages[-1]["content"]
        assert (text.index("\nC\n") < text.index("\nR\n")) == (s.label == 1)
    assert 70 < sum(s.label == 2 for s in swaps) < 130  # about half put chosen second
    as_is = pair_from_row({"id": "x", "question": "Q", "chosen": "C", "rejected": "R"}, 0, order="as-is")
    assert as_is.label == 1
    with pytest.raises(ConfigError, match="response1/response2"):
        pair_from_row({"question": "Q", "label": 1}, 0)
    (tmp_path / "img.png").write_bytes(b"\x89PNG fake")
    p = pair_from_row({"question": "Q", "response1": "a", "response2": "b", "label": 1, "image": "img.png"}, 0, image_root=tmp_path)
    parts = p.messages[-1]["content"]
    assert parts[0]["type"] == "image_url" and parts[0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert parts[1]["type"] == "text"


# -- end to end against a noisy reward model --------------------------------------------
def test_voting_improves_accuracy_of_a_noisy_model(tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    write_pairs(pairs, 60)
    with js.running("noisy", "--accuracy", "0.7") as (url, _):
        backend = {"base_url": url, "model": "rm", "concurrency": 8, "timeout_s": 5}
        one = run_vote(pairs, tmp_path / "k1.jsonl", backend, k=1, temperature=1.0, deadline_s=30, template=None)
        five = run_vote(pairs, tmp_path / "k5.jsonl", backend, k=5, temperature=1.0, deadline_s=30, template=None,
                        chunk_size=16)  # several chunks: the summary must add them up
        hits = js.stats(url)["hits"]
    assert hits == 60 * 6 and five.requests == 300
    assert one.labelled == five.labelled == 60 and five.invalid_votes == 0
    assert 0.55 <= one.accuracy <= 0.85 and 0.55 <= five.accuracy_at_1 <= 0.85
    # k=1 saw each prompt's sample 0 and k=5 its samples 1..5, all deterministic coins; which
    # of the five came back first varies with scheduling, so accuracy_at_1 of k=5 is not fixed
    assert five.accuracy >= one.accuracy + 0.08
    # every vote is the server's deterministic coin for that prompt and sample number:
    # k=1 drew sample 0 of each prompt, k=5 samples 1..5
    inputs = [json.loads(line) for line in pairs.read_text().splitlines()]
    rows = [json.loads(line) for line in (tmp_path / "k5.jsonl").read_text().splitlines()]
    singles = [json.loads(line) for line in (tmp_path / "k1.jsonl").read_text().splitlines()]
    assert len(rows) == 60 and all(len(r["votes"]) == 5 for r in rows)
    for i, (row, r, single) in enumerate(zip(inputs, rows, singles)):
        prompt = json.dumps(pair_from_row(row, i).messages, sort_keys=True)
        assert single["votes"] == [js.noisy_choice(prompt, 0, 0.7)]
        assert sorted(r["votes"]) == sorted(js.noisy_choice(prompt, n, 0.7) for n in range(1, 6))
        assert r["choice"] == majority(r["votes"])[0]
        assert r["correct"] == (r["choice"] == r["label"])
    assert sum(r["correct"] for r in rows) == five.correct
    assert five.accuracy_at_1 == sum(r["votes"][0] == r["label"] for r in rows) / 60
    assert five.vote_accuracy == sum(v == r["label"] for r in rows for v in r["votes"]) / 300


def test_cli_vote_reports_accuracy(tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    write_pairs(pairs, 20, shape="responses")
    with open(pairs, "a") as fh:
        fh.write("{broken json\n")
        fh.write(json.dumps({"id": "nolabel", "question": "Q", "response1": "GOOD", "response2": "BAD"}) + "\n")
    with js.running("noisy", "--accuracy", "0.8") as (url, _):
        result = CliRunner().invoke(main, ["vote", "--input", str(pairs), "--k", "3", "--base-url", url, "--model", "rm",
                                           "--json", "--template", "builtin"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["pairs"] == 21 and summary["labelled"] == 20 and summary["bad_rows"] == 1 and summary["k"] == 3
    assert "pairs.jsonl:21: skipped" in result.stderr
    assert summary["accuracy"] is not None and summary["reasons"] == {"ok": 63}
    out = tmp_path / "pairs.votes.jsonl"
    assert len(out.read_text().splitlines()) == 21


def test_cli_vote_table_and_errors(tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    write_pairs(pairs, 4)
    with js.running("noisy") as (url, _):
        result = CliRunner().invoke(main, ["vote", "--input", str(pairs), "--k", "3", "--base-url", url, "--model", "rm",
                                           "--output", str(tmp_path / "o.jsonl")])
        assert result.exit_code == 0, result.output
        assert "Voting@3 accuracy" in result.stdout and "single sample" in result.stdout
        zero = CliRunner().invoke(main, ["vote", "--input", str(pairs), "--k", "5", "--base-url", url, "--model", "rm",
                                         "--temperature", "0"])
    assert zero.exit_code == 2 and "temperature > 0" in zero.output
    missing = CliRunner().invoke(main, ["vote", "--input", str(pairs)])
    assert missing.exit_code == 2 and "base_url" in missing.output


def test_vote_against_a_stalled_server_ends_by_the_deadline(tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    write_pairs(pairs, 6)
    with js.running("stall") as (url, _):
        t = time.monotonic()
        s = run_vote(pairs, tmp_path / "o.jsonl", {"base_url": url, "model": "rm", "timeout_s": 10}, k=3,
                     temperature=0.7, deadline_s=1.0, chunk_size=3)
        took = time.monotonic() - t
    assert took < 2 * (1.0 + 0.5) + 0.5  # two chunks, each bounded by its deadline
    assert s.pairs == 6 and s.correct == 0 and s.ties == 6 and s.invalid_votes == 18
    assert s.reasons == {"judge_timeout": 18}


def test_vote_with_the_transformers_backend(tmp_path):
    from test_judge_local import build_tiny_judge

    model = build_tiny_judge(tmp_path / "rm", rigged="stops")
    pairs = tmp_path / "pairs.jsonl"
    write_pairs(pairs, 3)
    result = CliRunner().invoke(main, ["vote", "--input", str(pairs), "--k", "2", "--backend", "transformers",
                                       "--model-path", str(model), "--max-tokens", "2", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    # the rigged model never writes an <answer>: every vote is invalid, every pair a tie
    assert summary["pairs"] == 3 and summary["invalid_votes"] == 6 and summary["ties"] == 3
    assert summary["reasons"] == {"no_choice": 6} and summary["accuracy"] == 0.0


def test_vote_uses_the_registered_pairwise_template(tmp_path):
    """The policy was trained on the `pairwise` template: by default vote asks with it."""
    from vlmr1.registry import get_registry

    template = get_registry().template("pairwise")
    pairs = tmp_path / "pairs.jsonl"
    write_pairs(pairs, 4, shape="responses")
    with js.running("noisy") as (url, _):
        auto = run_vote(pairs, tmp_path / "a.jsonl", {"base_url": url, "model": "rm"}, k=1, temperature=1.0)
        builtin = run_vote(pairs, tmp_path / "b.jsonl", {"base_url": url, "model": "rm"}, k=1, temperature=1.0, template=None)
    assert auto.prompt == "template:pairwise" and builtin.prompt == "builtin"
    row = json.loads(pairs.read_text().splitlines()[0])
    from vlmr1.plugins.judge.vote import _template

    msgs = pair_from_row(row, 0, template=_template("auto")).messages
    assert msgs[0] == {"role": "system", "content": template.system}
    assert "[Response 1]\nGOOD answer 0" in msgs[-1]["content"]
