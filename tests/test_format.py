"""The `format` reward and its linear-time tag check: real outputs, adversarial inputs,
and properties (never raises, agrees with a reference reading of the rules)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vlmr1.plugins.json.rewards import FORMAT_DEFAULTS, format_score_batch
from vlmr1.answers import answer_span, answer_text, check_tags
from vlmr1.types import Sample

BOX = '{"bbox_2d": [135, 82, 310, 398], "label": "red cup"}'


def fmt(completion, task="rec", **params):
    return format_score_batch([Sample(completion, task=task)], [None], {**FORMAT_DEFAULTS, **params})[0]


# (task, completion, expected score, expected reason) -- outputs of the kind Qwen2.5-VL writes
REAL = [
    ("rec", f"<think>The red cup is on the left of the table.</think>\n<answer>{BOX}</answer>", 1.0, "ok"),
    ("rec", f"<think>\nThe cup is left.\n</think>\n\n<answer>\n```json\n{BOX}\n```\n</answer>\n", 1.0, "ok"),
    ("rec", f'<think>two cups</think><answer>[{BOX}, {{"bbox_2d": [1, 2, 3, 4]}}]</answer>', 1.0, "ok"),
    ("rec", f"<answer>{BOX}</answer>", 0.0, "no_think_tag"),
    ("rec", f"<think>cup</think>{BOX}", 0.0, "no_answer_tag"),
    ("rec", f"<think>cup</think><answer>{BOX}</answer><answer>{BOX}</answer>", 0.0, "multiple_answer_tags"),
    ("rec", f"<think>a</think><think>b</think><answer>{BOX}</answer>", 0.0, "multiple_think_tags"),
    ("rec", f"Sure! <think>cup</think><answer>{BOX}</answer>", 0.0, "text_outside_tags"),
    ("rec", f"<think>cup</think> So: <answer>{BOX}</answer>", 0.0, "text_outside_tags"),
    ("rec", f"<think>cup</think><answer>{BOX}</answer> Hope this helps.", 0.0, "text_outside_tags"),
    ("rec", f"<answer>{BOX}</answer><think>cup</think>", 0.0, "tags_out_of_order"),
    ("rec", f"<think>cup<answer>{BOX}</answer></think>", 0.0, "tags_out_of_order"),
    ("rec", f"<think>cup</think><answer>{BOX}", 0.0, "unclosed_answer_tag"),
    ("rec", "<think>cup</think><answer>the cup at [135, 82, 310, 398]</answer>", 0.0, "answer_not_json"),
    ("rec", '<think>cup</think><answer>{"bbox_2d": [135, 82, 310]}</answer>', 0.0, "schema: $.bbox_2d: "),
    ("rec", '<think>cup</think><answer>{"box": [1, 2, 3, 4]}</answer>', 0.0, "schema: $: "),
    ("rec", '<think>cup</think><answer>{"bbox_2d": [NaN, 1, 2, 3]}</answer>', 0.0, "json_nan"),
    ("rec", "<think>cup</think><answer>   </answer>", 0.0, "empty_answer"),
    ("detection", f"<think>one cup</think><answer>[{BOX}]</answer>", 1.0, "ok"),
    ("detection", "<think>nothing there</think><answer>[]</answer>", 1.0, "ok"),
    ("detection", f"<think>one cup</think><answer>{BOX}</answer>", 0.0, "schema: $: "),
    ("detection", '<think>x</think><answer>[{"bbox_2d": [1, 2, 3, 4]}]</answer>', 0.0, "schema: $[0]: "),
    ("counting", "<think>I count 3 apples.</think>\n<answer>3</answer>", 1.0, "ok"),
    ("counting", "<think>I count 3 apples.</think>\n<answer>three</answer>", 0.0, "answer_not_number"),
    ("counting", "<think>I count 3 apples.</think>\n<answer>3 apples</answer>", 0.0, "answer_not_number"),
    ("counting", "<think>Minus one?</think>\n<answer>-1</answer>", 0.0, "schema: $: -1 is less than the minimum of 0"),
    ("counting", "<think>Two and a half.</think>\n<answer>2.5</answer>", 0.0, "schema: $: 2.5 is not of type 'integer'"),
    ("counting", "<think>Many.</think>\n<answer>1,200</answer>", 1.0, "ok"),
    ("mcq", "<think>The second option fits.</think><answer>B</answer>", 1.0, "ok"),
    ("mcq", "<think>The second option fits.</think><answer>(b)</answer>", 1.0, "ok"),
    ("mcq", "<think>Both fit.</think><answer>A, C</answer>", 1.0, "ok"),
    ("mcq", "<think>x</think><answer>The answer is B because it is red</answer>", 0.0, "answer_not_choice"),
    ("yes_no", "<think>There is a dog.</think><answer>Yes</answer>", 1.0, "ok"),
    ("yes_no", "<think>There is a dog.</think><answer>yes.</answer>", 1.0, "ok"),
    ("yes_no", "<think>There is a dog.</think><answer>maybe</answer>", 0.0, "answer_not_choice"),
    ("pairwise", "<think>Response 2 is grounded in the image.</think><answer>2</answer>", 1.0, "ok"),
    ("pairwise", "<think>Both are fine.</think><answer>tie</answer>", 0.0, "answer_not_choice"),
    ("math", "<think>1/2 of 1</think><answer>\\frac{1}{2}</answer>", 1.0, "ok"),
    ("ocr", "<think>The sign reads STOP.</think><answer>STOP</answer>", 1.0, "ok"),
    ("no_such_task", f"<think>x</think><answer>{BOX}</answer>", None, "no_template"),
    (None, f"<think>x</think><answer>{BOX}</answer>", None, "no_template"),
]


@pytest.mark.parametrize("task, completion, score, reason", REAL)
def test_real_world_outputs(task, completion, score, reason):
    v = fmt(completion, task)
    assert v.score == score, v
    assert v.reason.startswith(reason), v


def test_params_strictness_template_override_and_answer_check():
    loose = f"Sure! <think>cup</think> here: <answer>{BOX}</answer> done"
    assert fmt(loose).reason == "text_outside_tags"
    assert fmt(loose, strict=False).score == 1.0
    # params.template forces a template whatever the row's task
    assert fmt("<think>x</think><answer>3</answer>", task=None, template="counting").score == 1.0
    unknown = fmt("<think>x</think><answer>3</answer>", template="nope")
    assert unknown.score is None and unknown.reason == "unknown_template: nope"
    # check_answer off: tags alone
    assert fmt("<think>x</think><answer>not json</answer>", check_answer=False).score == 1.0
    # the opening think tag was in the prompt
    prefilled = f"the cup is left</think><answer>{BOX}</answer>"
    assert fmt(prefilled).reason == "no_think_open_tag"
    assert fmt(prefilled, think_prefilled=True).score == 1.0


def test_choice_answers_are_checked_against_the_rows_options():
    ok = Sample("<think>x</think><answer>C</answer>", task="mcq", columns={"options": ["cat", "dog", "cow"]})
    bad = Sample("<think>x</think><answer>E</answer>", task="mcq", columns={"options": ["cat", "dog", "cow"]})
    got = format_score_batch([ok, bad], [None, None], FORMAT_DEFAULTS)
    assert [v.score for v in got] == [1.0, 0.0]
    assert got[1].reason == "not_an_option"


def test_format_reward_follows_a_templates_own_tags():
    """A plugin template without a think block, with its own answer tags."""
    from vlmr1 import hookimpl
    from vlmr1.registry import Registry, set_registry
    from vlmr1.types import PromptTemplate

    class Plugin:
        @hookimpl
        def register_prompt_templates(self, register):
            register(PromptTemplate("short", system="Answer in <ans></ans>.", think_tags=None,
                                    answer_tags=("<ans>", "</ans>"), answer_kind="number"))

    reg = Registry()
    reg.add_plugin(Plugin(), "short_plugin")
    set_registry(reg)
    assert fmt("<ans>42</ans>", task="short").score == 1.0
    assert fmt("<think>x</think><ans>42</ans>", task="short").reason == "text_outside_tags"
    assert fmt("<answer>42</answer>", task="short").reason == "no_answer_tag"


ADVERSARIAL = [
    "<think>" * 20000,
    "<think>" + "</think>" * 20000,
    "<think>x</think><answer>" + "{" * 50000 + "</answer>",
    "<think>x</think><answer>" + "[" * 30000 + "]" * 30000 + "</answer>",
    "<think>" + "a" * 100_000 + "</think><answer>" + "{\"bbox_2d\": [1, 2, 3, 4]" * 3000 + "</answer>",
    "<think>x</think><answer>{\"bbox_2d\": [1" + "0" * 5000 + ", 2, 3, 4]}</answer>",
    "<think>x</think><answer>" + "\"" * 100_000 + "</answer>",
    "<think>x</think><answer>" + " " * 100_000 + "</answer>",
    "<think>" + "<answer>" * 10000 + "</think>" + "</answer>" * 10000,
    "<think>x</think>" + "\n" * 100_000 + "<answer>[]</answer>",
]


@pytest.mark.parametrize("completion", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_adversarial_completions_get_a_reason_and_return(completion):
    for task in ("rec", "detection", "counting", "mcq"):
        v = fmt(completion, task)
        assert v.score in (0.0, 1.0) and v.reason
    assert fmt(ADVERSARIAL[0]).reason == "multiple_think_tags"
    assert fmt(ADVERSARIAL[2]).reason == "json_too_deep"


def test_a_hundred_kilobyte_completion_is_checked_in_one_pass():
    """Correctness on a 100 kB completion; the speed claim lives in bench/bench_format.py."""
    big = "<think>" + "the cup " * 12_500 + "</think><answer>" + BOX + "</answer>"
    assert len(big) > 100_000
    start = time.perf_counter()
    v = fmt(big)
    assert v.score == 1.0 and v.answer["label"] == "red cup"
    assert time.perf_counter() - start < 5  # a hang guard, not a benchmark


def test_answer_span_takes_the_last_complete_block():
    text = "<think>I will write <answer> at the end</think><answer>B</answer>"
    assert answer_text(text) == "B"
    assert answer_text("<answer>A</answer> then <answer>C</answer>") == "C"
    assert answer_span("no tags") is None
    assert answer_text("</answer><answer>") is None


# -- properties ------------------------------------------------------------------------
_pieces = st.sampled_from(["<think>", "</think>", "<answer>", "</answer>", " ", "\n", "x", "{", "}", "3", "B"])


def _reference(text: str) -> bool:
    """The rule, written the slow obvious way: exactly one of each tag, in order,
    only whitespace outside."""
    tags = ["<think>", "</think>", "<answer>", "</answer>"]
    if any(text.count(t) != 1 for t in tags):
        return False
    pos = [text.index(t) for t in tags]
    if pos != sorted(pos) or pos[1] < pos[0] + len(tags[0]) or pos[3] < pos[2] + len(tags[2]):
        return False
    outside = text[:pos[0]] + text[pos[1] + len(tags[1]):pos[2]] + text[pos[3] + len(tags[3]):]
    return not outside.strip()


@settings(max_examples=400, deadline=None)
@given(st.lists(_pieces, max_size=14).map("".join))
def test_tag_check_agrees_with_the_reference_rule(text):
    got = check_tags(text)
    assert got.ok == _reference(text), (text, got)
    if got.ok:
        assert f"<think>{got.think}</think>" in text and f"<answer>{got.answer}</answer>" in text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.sampled_from(["rec", "detection", "counting", "mcq", "yes_no", "pairwise", "math", "ocr"]))
def test_format_never_raises(text, task):
    v = fmt(text, task)
    assert v.score in (0.0, 1.0) and isinstance(v.reason, str) and v.reason


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200), st.text(max_size=200))
def test_wrapping_any_think_and_a_valid_answer_is_accepted(think, noise):
    """Whatever the reasoning says (no tags in it), a well-formed completion passes."""
    think = think.replace("<", "(")
    v = fmt(f"<think>{think}</think>\n<answer>[]</answer>", "detection")
    assert v.score == 1.0, v
