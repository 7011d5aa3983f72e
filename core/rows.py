"""A dataset row (a JSONL line, or one completion's columns under TRL) as a Sample.

The same function builds Samples for `vlmr1 score`, for the TRL bridge and for
``vlmr1.testing``, so a reward sees the same thing offline and in training.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .types import Sample
from .verdicts import clean_text
from .views import freeze

__all__ = ["END_TOKENS", "RowError", "bad_row_reason", "completion_text", "known_tasks", "response_from_query", "row_from_label", "row_from_verl",
           "sample_from_row", "sample_to_row", "solution_from_text", "task_for_source"]

# verl adds these to extra_info itself; they are not dataset columns
_VERL_RESERVED = frozenset({"num_turns", "rollout_reward_scores", "reward_router_address"})

_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
# End-of-turn markers a trainer leaves on a decoded response (it decodes with special tokens kept).
END_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end|>", "</s>", "<|end_of_text|>")

# Row keys that become Sample fields; everything else goes into Sample.columns.
_FIELDS = ("completion", "solution", "prompt", "task", "id", "group", "image", "image_size", "input_size")


class RowError(ValueError):
    """A row that cannot be scored (no completion, a malformed size...)."""


def bad_row_reason(exc: Exception, limit: int = 1000) -> str:
    """The reason a row that could not become a Sample carries: ``invalid row: ...``."""
    text = f"invalid row: {exc}" if isinstance(exc, RowError) else f"invalid row: {type(exc).__name__}: {exc}"
    return clean_text(text, limit)


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # multimodal parts: [{"type": "text", "text": ...}, {"type": "image"}]
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, Mapping) and part.get("type", "text") == "text":
                parts.append(str(part.get("text", "")))
        return "".join(parts)
    raise RowError(f"message content must be a string or a list of parts, got {type(content).__name__}")


def completion_text(completion: Any) -> str:
    """The completion as text: a string as is; TRL messages -> the last assistant message's content."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping) and "content" in completion:
        return _content_text(completion["content"])
    if isinstance(completion, (list, tuple)):
        if not completion:
            return ""
        if not all(isinstance(m, Mapping) for m in completion):
            raise RowError("a completion list must hold chat messages ({'role': ..., 'content': ...})")
        assistant = [m for m in completion if m.get("role") == "assistant"]
        message = assistant[-1] if assistant else completion[-1]
        return _content_text(message.get("content"))
    if completion is None:
        raise RowError("the row has no `completion`")
    raise RowError(f"`completion` must be a string or a list of chat messages, got {type(completion).__name__}")


def _size(value: Any, key: str) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        w, h = value
        size = (int(w), int(h))
    except (TypeError, ValueError):
        raise RowError(f"`{key}` must be [width, height], got {value!r}") from None
    if size[0] <= 0 or size[1] <= 0 or size != (w, h):
        raise RowError(f"`{key}` must be two positive integers [width, height], got {value!r}")
    return size


def _object_size(image: Any) -> tuple[int, int] | None:
    size = getattr(image, "size", None)
    return _size(size, "image.size") if isinstance(size, tuple) and len(size) == 2 else None


def sample_from_row(row: Mapping[str, Any], index: int = 0, *, default_task: str | None = None) -> Sample:
    """Build the Sample a reward sees from one row.

    ``completion`` is a string or TRL-style messages (the last assistant message is
    taken). ``image_size`` / ``input_size`` become ``(width, height)`` tuples. An image
    given as an object (a PIL image, as TRL datasets carry) is not shipped to
    workers: its ``.size`` fills ``image_size`` when the row has none. ``task``
    falls back to ``default_task`` (the config's ``task``). Every other column is
    kept in ``Sample.columns``. Raises :class:`RowError` for a row that cannot be scored.

    The solution, the prompt and the columns are read-only copies (:mod:`vlmr1.views`):
    no reward can change the row, or what the next reward sees, by mutating them.
    """
    if not isinstance(row, Mapping):
        raise RowError(f"a row must be a JSON object, got {type(row).__name__}")
    completion = completion_text(row.get("completion"))
    columns = {k: v for k, v in row.items() if k not in _FIELDS}
    image = row.get("image")
    image_size = _size(row.get("image_size"), "image_size")
    if isinstance(image, (list, tuple)):
        if all(isinstance(i, str) for i in image):
            columns["images"] = list(image)
        image = image[0] if image else None
    images = columns.get("images")
    if isinstance(images, (list, tuple)) and not all(isinstance(i, str) for i in images):
        # TRL's multimodal column holds decoded images: keep their size, never ship pixels.
        del columns["images"]
        if images and image_size is None:
            image_size = _object_size(images[0])
        if image is None and images:
            image = images[0]
    if image is not None and not isinstance(image, str):
        if image_size is None:
            image_size = _object_size(image)
        image = getattr(image, "filename", None) or None
    task = row.get("task") or default_task
    rid = row.get("id")
    group = row.get("group")
    return Sample(
        completion=completion,
        solution=freeze(row.get("solution")),
        prompt=freeze(row.get("prompt")),
        task=str(task) if task is not None else None,
        id=str(rid) if rid is not None else None,
        group=str(group) if group is not None else None,
        index=index,
        image=image,
        image_size=image_size,
        input_size=_size(row.get("input_size"), "input_size"),
        columns=freeze(columns),
    )


def solution_from_text(value: Any) -> Any:
    """A ground truth as our rewards read it: ``<answer>`` tags removed, JSON boxes parsed.

    Trainers carry the ground truth as text (parquet columns, OpenRLHF labels); a box
    stored as ``"[10, 20, 30, 40]"`` must reach the IoU reward as a list again.
    Text that is not JSON stays text; nothing raises.
    """
    if not isinstance(value, str):
        return value
    text = value
    found = _ANSWER.findall(text)
    if found:
        text = found[-1]
    text = text.strip()
    if text[:1] in "[{":
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return text


def response_from_query(query: str, prompt: str | None, end_tokens: Sequence[str] = END_TOKENS) -> str:
    """The completion inside a trainer's ``query`` (prompt and response decoded together, as
    OpenRLHF sends them): the text after the prompt, without trailing end-of-turn tokens.

    A query that does not contain its prompt (a tokenizer that does not round-trip) is
    taken whole rather than cut at a guess.
    """
    text = str(query)
    if prompt:
        if text.startswith(prompt):
            text = text[len(prompt):]
        else:
            at = text.find(prompt)
            if at >= 0:
                text = text[at + len(prompt):]
    stripped = True
    while stripped:
        stripped = False
        text = text.rstrip()
        for token in end_tokens:
            if token and text.endswith(token):
                text = text[: -len(token)]
                stripped = True
    return text


def row_from_label(completion: str, label: Any, prompt: Any = None) -> dict[str, Any]:
    """The row a completion and its trainer-side label stand for.

    A label that is a JSON object (or its text) with a ``solution`` key carries the
    row's fields (``solution``, ``task``, ``image_size``, ``input_size``, ...); any
    other label is the solution itself, with ``<answer>`` tags removed and JSON text
    parsed. A label object without ``solution`` is a box or other structured answer,
    so it is the solution too.
    """
    fields: Any = label
    if isinstance(label, str) and label.lstrip()[:1] == "{":
        try:
            fields = json.loads(label)
        except json.JSONDecodeError:
            fields = label
    if isinstance(fields, Mapping) and "solution" in fields:
        row = {str(k): v for k, v in fields.items()}
        row["solution"] = solution_from_text(row["solution"])
    else:
        row = {"solution": solution_from_text(fields if isinstance(fields, Mapping) else label)}
    row["completion"] = completion
    if prompt is not None and "prompt" not in row:
        row["prompt"] = prompt
    return row


def known_tasks(engine: Any) -> set[str]:
    """Task names a trainer's data source may name: the templates and the config's tasks."""
    tasks = set(engine.registry.templates)
    for spec in engine.config.rewards:
        tasks |= set(spec.tasks or ())
    if engine.config.task:
        tasks.add(engine.config.task)
    return tasks


def task_for_source(data_source: Any, extra_info: Mapping[str, Any] | None, known: set[str]) -> str | None:
    """``extra_info["task"]``, else the data source (or its last ``/`` part) if it names a known task."""
    if extra_info and extra_info.get("task"):
        return str(extra_info["task"])
    if data_source is not None:
        source = str(data_source)
        for name in (source, source.rsplit("/", 1)[-1]):
            if name in known:
                return name
    return None


def _as_list(value: Any) -> list[Any]:
    return value.tolist() if hasattr(value, "tolist") else list(value)


def row_from_verl(data_source: Any, solution_str: Any, ground_truth: Any, extra_info: Mapping[str, Any] | None,
                  known: set[str]) -> dict[str, Any]:
    """The vlmr1 row one verl response stands for (``compute_score``'s arguments).

    ``known`` are the task names the data source may name (templates and configured
    tasks); the engine falls back to the config's task when none matches.
    """
    extra = {k: v for k, v in dict(extra_info or {}).items() if k not in _VERL_RESERVED}
    row: dict[str, Any] = {**extra, "completion": solution_str if solution_str is not None else "",
                           "solution": solution_from_text(ground_truth), "data_source": data_source}
    for key in ("image_size", "input_size"):
        if row.get(key) is not None:
            row[key] = [int(v) for v in _as_list(row[key])]
    task = task_for_source(data_source, extra, known)
    if task is not None:
        row["task"] = task
    else:
        row.pop("task", None)
    return row


def sample_to_row(sample: Sample) -> dict[str, Any]:
    """A Sample as a JSON-ready row that :func:`sample_from_row` reads back to an equal Sample
    (but for ``index``, which is where the row sits in its batch)."""
    row: dict[str, Any] = dict(sample.columns)
    row.update(completion=sample.completion, solution=sample.solution)
    for key in ("prompt", "task", "id", "group", "image"):
        value = getattr(sample, key)
        if value is not None:
            row[key] = value
    for key in ("image_size", "input_size"):
        value = getattr(sample, key)
        if value is not None:
            row[key] = list(value)
    return row
