"""Prompt templates for the tasks people train vision-language models on.

Each template states its answer format in words and in data (``answer_kind``, ``answer_schema``,
tags); the ``format`` reward reads the data, so what the prompt asks for and what the format
check accepts come from one place.

The wording follows the conventions models of the R1 line were trained with: reasoning in
``<think> </think>``, the final answer in ``<answer> </answer>``, boxes as JSON objects with a
``bbox_2d`` list of ``[x1, y1, x2, y2]`` pixel coordinates and a ``label`` (Qwen2.5-VL's
grounding format), and for reward-model training a side-by-side comparison that ends in the
number of the better response (no ties).

For ``answer_kind="choice"`` an ``answer_schema`` with an ``enum`` lists the accepted answers
(``yes``/``no``, ``1``/``2``); without one, the answer is one or more option letters. For
``answer_kind="number"`` an ``answer_schema`` constrains the value (counting: an integer >= 0).
"""

from __future__ import annotations

from vlmr1.types import PromptTemplate

__all__ = ["TEMPLATES", "BOX_SCHEMA", "REC_SCHEMA", "DETECTION_SCHEMA", "THINK_ANSWER"]

THINK_ANSWER = (
    "Think about the question step by step before you answer. Write your reasoning inside "
    "<think> </think> tags and then your final answer inside <answer> </answer> tags, like this: "
    "<think> reasoning here </think><answer> final answer here </answer>. "
    "Write nothing outside the two tag pairs."
)

_COORD = {"type": "number"}

BOX_SCHEMA = {
    "type": "object",
    "properties": {
        "bbox_2d": {"type": "array", "items": _COORD, "minItems": 4, "maxItems": 4},
        "label": {"type": "string"},
    },
    "required": ["bbox_2d"],
}
"""One box: ``{"bbox_2d": [x1, y1, x2, y2], "label": "cup"}``; the label is optional."""

REC_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "rec answer",
    "anyOf": [BOX_SCHEMA, {"type": "array", "items": BOX_SCHEMA, "minItems": 1}],
}
"""A referring-expression answer: one box, or a non-empty list of boxes."""

DETECTION_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "detection answer",
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "bbox_2d": {"type": "array", "items": _COORD, "minItems": 4, "maxItems": 4},
            "label": {"type": "string", "minLength": 1},
        },
        "required": ["bbox_2d", "label"],
    },
}
"""Every object of the asked categories: a list of labelled boxes; ``[]`` when there is none."""


def _t(name: str, system_extra: str, question: str, answer_format: str, kind: str,
       schema: dict | None = None, doc: str = "", think: bool = True) -> PromptTemplate:
    return PromptTemplate(
        name=name,
        system=(THINK_ANSWER + " " + system_extra).strip(),
        question=question,
        answer_format=answer_format,
        answer_kind=kind,
        answer_schema=schema,
        think_tags=("<think>", "</think>") if think else None,
        doc=doc,
    )


TEMPLATES: tuple[PromptTemplate, ...] = (
    _t(
        "rec",
        "The answer locates what the question describes as a bounding box in JSON: "
        '{"bbox_2d": [x1, y1, x2, y2], "label": "name"}, with (x1, y1) the top-left and (x2, y2) '
        "the bottom-right corner in pixels of the image; a JSON list of such objects if the "
        "description matches several.",
        "{question} First write your thinking process in <think> </think> tags, then the bounding "
        "box as JSON in <answer> </answer> tags.",
        '<think> ... </think><answer>{"bbox_2d": [x1, y1, x2, y2], "label": "..."}</answer>',
        "json",
        REC_SCHEMA,
        "Referring expression comprehension (grounding): one box, or a list of boxes, in JSON.",
    ),
    _t(
        "counting",
        "The answer is a single whole number written in digits, with no words or units.",
        "{question} First write your thinking process in <think> </think> tags, then the count as "
        "a number in <answer> </answer> tags.",
        "<think> ... </think><answer>3</answer>",
        "number",
        {"type": "integer", "minimum": 0},
        "Counting objects: the answer is a non-negative integer in digits.",
    ),
    _t(
        "math",
        "The answer is the final result only: a number, an expression or a set in LaTeX "
        "(for example \\frac{1}{2} or \\sqrt{3}), without the working and without units.",
        "{question} First write your thinking process in <think> </think> tags, then the final "
        "answer in <answer> </answer> tags.",
        "<think> ... </think><answer>\\frac{1}{2}</answer>",
        "text",
        doc="Mathematical reasoning: the final answer as a number or LaTeX expression (checked by math).",
    ),
    _t(
        "mcq",
        "The question lists options labelled with letters; the answer is the letter of the "
        "correct option (several letters, such as AC, if more than one option is correct).",
        "{question} First write your thinking process in <think> </think> tags, then the letter "
        "of your choice in <answer> </answer> tags.",
        "<think> ... </think><answer>B</answer>",
        "choice",
        doc="Multiple choice: the answer is an option letter (or letters for multi-select).",
    ),
    _t(
        "ocr",
        "The answer is the text exactly as it appears in the image, keeping its spelling, "
        "capitalisation and line breaks.",
        "{question} First write your thinking process in <think> </think> tags, then the text "
        "you read in <answer> </answer> tags.",
        "<think> ... </think><answer>the text in the image</answer>",
        "text",
        doc="Text recognition: the answer is the transcribed text, non-empty.",
    ),
    _t(
        "detection",
        "The answer lists every object of the asked categories as a JSON list: "
        '[{"bbox_2d": [x1, y1, x2, y2], "label": "category"}, ...], coordinates in pixels of the '
        "image, an empty list [] if there is none.",
        "{question} First write your thinking process in <think> </think> tags, then the JSON list "
        "of labelled boxes in <answer> </answer> tags.",
        '<think> ... </think><answer>[{"bbox_2d": [x1, y1, x2, y2], "label": "..."}]</answer>',
        "json",
        DETECTION_SCHEMA,
        "Object detection: a JSON list of labelled boxes, [] when nothing is present.",
    ),
    PromptTemplate(
        name="pairwise",
        system=(
            "You are a fair and careful judge of answers that a multimodal model gave to a question "
            "about an image. Compare the two responses side by side inside <think> </think> tags: "
            "correctness, faithfulness to the image, helpfulness and the soundness of the reasoning. "
            "A tie is not allowed; you must prefer one. Then write inside <answer> </answer> tags "
            "only the number of the better response: 1 if Response 1 is better, 2 if Response 2 is better."
        ),
        question=(
            "[Question]\n{question}\n\n[Response 1]\n{response1}\n\n[Response 2]\n{response2}\n\n"
            "Reply in exactly this format: <think> your comparison </think><answer>1 or 2</answer>"
        ),
        answer_format="<think> ... </think><answer>1</answer>",
        answer_kind="choice",
        answer_schema={"enum": ["1", "2"]},
        doc="Reward-model training (R1-Reward): which of two responses is better, 1 or 2, after a comparison.",
    ),
    _t(
        "yes_no",
        "The answer is a single word: yes or no.",
        "{question} First write your thinking process in <think> </think> tags, then yes or no in "
        "<answer> </answer> tags.",
        "<think> ... </think><answer>yes</answer>",
        "choice",
        {"enum": ["yes", "no"]},
        "Yes/no questions: the answer is the single word yes or no.",
    ),
)
