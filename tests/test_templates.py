"""The first-party prompt templates: registered, well-formed, and each one's own example
answer passes the format reward derived from it (template and check cannot disagree)."""

from __future__ import annotations

import pytest

from vlmr1.plugins.json.rewards import FORMAT_DEFAULTS, format_score_batch
from vlmr1.plugins.json.templates import TEMPLATES
from vlmr1.registry import get_registry
from vlmr1.types import Sample

NAMES = ["counting", "detection", "math", "mcq", "ocr", "pairwise", "rec", "yes_no"]

# A filled-in answer for each template's answer_format placeholder
EXAMPLES = {
    "rec": '{"bbox_2d": [10, 20, 110, 220], "label": "dog"}',
    "counting": "3",
    "math": "\\frac{1}{2}",
    "mcq": "B",
    "ocr": "OPEN 24 HOURS",
    "detection": '[{"bbox_2d": [10, 20, 110, 220], "label": "dog"}, {"bbox_2d": [5, 5, 9, 9], "label": "cat"}]',
    "pairwise": "1",
    "yes_no": "no",
}


def test_all_templates_are_registered_by_the_json_plugin():
    registry = get_registry()
    for name in NAMES:
        t = registry.template(name)
        assert t.provenance.plugin == "json" and t.provenance.distribution == "vlmr1"
    assert sorted(t.name for t in TEMPLATES) == NAMES


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.name)
def test_template_states_its_format_and_the_format_reward_accepts_it(template):
    assert template.answer_kind in ("json", "number", "choice", "text")
    assert "<think>" in template.system and "<answer>" in template.system
    assert template.answer_format.startswith("<think>") and "<answer>" in template.answer_format
    if template.answer_kind == "json":
        assert template.answer_schema is not None
        from jsonschema import Draft202012Validator

        Draft202012Validator.check_schema(template.answer_schema)
    completion = f"<think>Looking at the image carefully.</think>\n<answer>{EXAMPLES[template.name]}</answer>"
    v = format_score_batch([Sample(completion, task=template.name)], [None], FORMAT_DEFAULTS)[0]
    assert v.score == 1.0, v
    # and the same answer without the reasoning block does not
    v = format_score_batch([Sample(f"<answer>{EXAMPLES[template.name]}</answer>", task=template.name)], [None], FORMAT_DEFAULTS)[0]
    assert v.score == 0.0 and v.reason == "no_think_tag"


@pytest.mark.parametrize("template", [t for t in TEMPLATES if t.name != "pairwise"], ids=lambda t: t.name)
def test_render_puts_the_question_in_the_user_turn(template):
    messages = template.render("What is in the picture?")
    assert messages[0] == {"role": "system", "content": template.system}
    assert messages[1]["role"] == "user" and messages[1]["content"].startswith("What is in the picture?")
    assert "<answer>" in messages[1]["content"]


def test_pairwise_renders_both_responses_and_asks_for_1_or_2():
    t = get_registry().template("pairwise")
    messages = t.render(question="What colour is the car?", response1="Red.", response2="Blue.")
    user = messages[1]["content"]
    assert user.index("What colour is the car?") < user.index("[Response 1]\nRed.") < user.index("[Response 2]\nBlue.")
    assert "1 if Response 1 is better" in messages[0]["content"] and "tie is not allowed" in messages[0]["content"]
    assert t.answer_schema == {"enum": ["1", "2"]}


def test_schemas_accept_boxes_and_reject_non_boxes():
    from vlmr1.plugins.json.jsonanswer import schema_error

    rec = get_registry().template("rec").answer_schema
    det = get_registry().template("detection").answer_schema
    assert schema_error({"bbox_2d": [1.5, 2, 3, 4.25]}, rec) is None
    assert schema_error([{"bbox_2d": [1, 2, 3, 4], "label": "a"}, {"bbox_2d": [5, 6, 7, 8]}], rec) is None
    assert schema_error({"bbox_2d": [1, 2, 3, 4, 5]}, rec) is not None
    assert schema_error([], rec) is not None
    assert schema_error([], det) is None
    assert schema_error([{"bbox_2d": [1, 2, 3, 4], "label": ""}], det) is not None
