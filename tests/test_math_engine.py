"""math, mcq, yes_no, format and json scored through the real engine: math runs isolated
in worker processes (so its reward, prepared gold and verdicts cross the process
boundary), the cheap ones inline; gates and dedupe work with them."""

from __future__ import annotations

import pytest

from vlmr1.config import Config, EngineConfig, RewardSpec
from vlmr1.engine import Engine
from vlmr1.rows import sample_from_row

ROWS = [
    {"completion": "<think>Half.</think><answer>\\frac{1}{2}</answer>", "solution": "$0.5$", "task": "math"},
    {"completion": "<think>Half.</think><answer>0.5</answer>", "solution": "$0.5$", "task": "math"},
    {"completion": "<think>Root.</think><answer>2\\sqrt{2}</answer>", "solution": "\\sqrt{8}", "task": "math"},
    {"completion": "I get \\boxed{\\frac{1}{\\sqrt{2}+1}}", "solution": "\\sqrt{2}-1", "task": "math"},
    {"completion": "<think>Hmm.</think><answer>9^9^9^9</answer>", "solution": "3", "task": "math"},
    {"completion": "<think>Three.</think><answer>3</answer>", "solution": 3, "task": "counting"},
    {"completion": "<think>Four.</think><answer>4</answer>", "solution": 3, "task": "counting"},
    {"completion": "no tags, no answer", "solution": "\\frac{1}{3}", "task": "math"},
]


@pytest.fixture(scope="module")
def engine_result():
    specs = (
        RewardSpec("format", weight=0.5),
        RewardSpec("math", params={"rel_tol": 0.0}),
    )
    cfg = Config(specs, EngineConfig(workers=2, timeout=60.0))
    with Engine(cfg) as eng:
        assert eng.column_mode("math") == "isolated" and eng.column_mode("format") == "batch"
        first = eng.score([sample_from_row(r) for r in ROWS])
        again = eng.score([sample_from_row(r) for r in ROWS[:2]])
    return first, again


def test_math_scores_in_worker_processes(engine_result):
    result, _ = engine_result
    assert result.columns["math"] == [1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0]
    assert result.reasons["math"][4] == "too_complex"
    assert result.reasons["math"][6] == "wrong"
    assert result.verdicts["math"][1].details["path"] == "number"
    assert result.verdicts["math"][2].details["path"] == "exact"  # equal constants, settled inline
    assert result.verdicts["math"][3].details["path"] in {"shortcut", "math_verify"}  # the LaTeX route


def test_gold_is_prepared_once_per_distinct_solution(engine_result):
    result, again = engine_result
    assert result.metrics["engine/gold_prepared"] == 6  # "$0.5$" twice, 3 twice: 6 distinct
    assert again.metrics["engine/gold_prepared"] == 0  # cached across batches


def test_format_column_and_total(engine_result):
    result, _ = engine_result
    fmt = result.columns["format"]
    assert fmt[:3] == [1.0, 1.0, 1.0] and fmt[3] == 0.0 and fmt[5] == 1.0 and fmt[7] == 0.0
    assert result.reasons["format"][3] == "no_think_tag"
    assert result.total[0] == 1.5 and result.total[6] == 0.5


def test_choice_and_json_rewards_inline_with_a_gate():
    rows = [
        {"completion": "<think>The cup.</think><answer>B</answer>", "solution": "B", "task": "mcq", "options": ["mug", "cup"]},
        {"completion": "The answer is B.", "solution": "B", "task": "mcq", "options": ["mug", "cup"]},
        {"completion": "<think>x</think><answer>C</answer>", "solution": "B", "task": "mcq", "options": ["mug", "cup"]},
        {"completion": "<think>A dog.</think><answer>yes</answer>", "solution": "yes", "task": "yes_no"},
        {"completion": "<think>A dog?</think><answer>I know</answer>", "solution": "no", "task": "yes_no"},
        {"completion": '<think>x</think><answer>{"bbox_2d": [1, 2, 3, 4]}</answer>', "solution": [1, 2, 3, 4], "task": "rec"},
    ]
    specs = (
        RewardSpec("format", weight=0.0),
        RewardSpec("mcq", tasks=frozenset({"mcq"}), gate="format", gate_min=1.0),
        RewardSpec("yes_no", tasks=frozenset({"yes_no"})),
        RewardSpec("json"),
    )
    with Engine(Config(specs, EngineConfig(workers=0))) as eng:
        r = eng.score([sample_from_row(row) for row in rows])
    assert r.columns["mcq"] == [1.0, 0.0, 0.0, None, None, None]
    assert r.reasons["mcq"][1] == "gated_by:format" and r.reasons["mcq"][2] == "gated_by:format"
    assert r.reasons["format"][1] == "no_think_tag" and r.reasons["format"][2] == "not_an_option"
    assert r.columns["yes_no"] == [None, None, None, 1.0, 0.0, None]
    assert r.reasons["yes_no"][4] == "no_answer"
    assert r.columns["json"] == [None, None, None, None, None, 1.0]


def test_generations_with_the_same_answer_are_verified_once():
    """GRPO groups reach one answer under different reasoning: math's dedupe_key (its
    extracted answer) lets the engine verify it once and share the verdict."""
    from vlmr1.config import config_from_dict
    from vlmr1.engine import Engine

    rows = [
        {"completion": f"<think>route {i}: {'x' * i}</think><answer>\\frac{{1}}{{2}}</answer>", "solution": "0.5", "task": "math"}
        for i in range(6)
    ] + [{"completion": "<think>other</think><answer>3</answer>", "solution": "0.5", "task": "math"}]
    with Engine(config_from_dict({"rewards": [{"name": "math"}], "engine": {"workers": 1, "timeout": 30}})) as eng:
        result = eng.score(rows)
    assert result.columns["math"] == [1.0] * 6 + [0.0]
    assert result.metrics["engine/dedup_hits"] == 5


def test_math_warms_up_only_when_a_worker_is_needed_and_before_it_forks():
    """Building an engine imports nothing heavy; a batch every item of which is settled
    inline (plain numbers) never imports math-verify; the first item that needs a worker
    makes the main process import it just before the workers fork, so they inherit it."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from vlmr1.config import config_from_dict\n"
        "from vlmr1.engine import Engine\n"
        "eng = Engine(config_from_dict({'rewards': [{'name': 'math'}], 'engine': {'workers': 1}}))\n"
        "print('built', 'math_verify' in sys.modules, 'sympy' in sys.modules)\n"
        "r = eng.score([{'completion': 'There are 7 items in the image.', 'solution': '<answer> 7 </answer>'},\n"
        "               {'completion': '<answer>2√3</answer>', 'solution': '2\\\\sqrt{3}'}])\n"
        "print('inline', 'math_verify' in sys.modules, r.columns['math'], r.metrics['engine/chunks'])\n"
        "r = eng.score([{'completion': '<answer>\\\\frac{1}{\\\\sqrt{2}+1}</answer>', 'solution': '\\\\sqrt{2}-1'}])\n"
        "print('worker', 'math_verify' in sys.modules, r.columns['math'], r.metrics['engine/chunks'])\n"
        "eng.close()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**__import__("os").environ, "VLMR1_PLUGINS": ""})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "built False False"
    assert lines[1] == "inline False [1.0, 1.0] 0.0"
    assert lines[2] == "worker True [1.0] 1.0"
