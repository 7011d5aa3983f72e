"""Test-time scaling for a pairwise reward model: sample k verdicts per pair, take the
majority (R1-Reward's Voting@k), and measure accuracy against human labels.

Input rows (JSONL), one pair each, in any of these shapes:

- ``question`` (or ``problem``), ``response1``, ``response2`` and a label (``label``,
  ``preference`` or ``solution``: 1 or 2);
- ``question``, ``chosen``, ``rejected``: the label follows from where ``chosen`` is put.
  With ``order="shuffle"`` (default) ``chosen`` goes first or second by a hash of the row's
  id, so a model that always answers 1 scores about 50 %, not 100 % (R1-Reward's benchmark
  files always put ``chosen`` first);
- ``messages``/``prompt``: a ready conversation (string or chat messages) and a label.

``image`` (a path, or a list of paths) is sent to OpenAI-compatible servers as data URLs.

Majority rule: the choice with more valid votes wins. A tie, including a pair with no valid
vote at all, gives no choice (``choice: null``) and counts as wrong; ``tie_break="first"``
takes the first valid vote instead. Use an odd k to make ties rare.
"""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from vlmr1.errors import ConfigError

from .parse import extract_answer, parse_choice

PAIRWISE_PROMPT = (
    "You are an impartial judge comparing two responses that a multimodal model gave to the same "
    "question. First compare them side by side inside <think> and </think>: correctness, "
    "faithfulness to the image, helpfulness, and reasoning. A tie is not allowed. Then give your "
    "choice inside <answer> and </answer>: 1 if Response 1 is better, 2 if Response 2 is better.\n\n"
    "[Question]\n{question}\n\n[Response 1]\n{response1}\n\n[Response 2]\n{response2}\n\n"
    "Answer in exactly this format: <think>your comparison</think><answer>1 or 2</answer>"
)


@dataclass
class Pair:
    """One pair ready to send: the conversation and the label (1, 2 or None)."""

    id: str
    messages: list[dict[str, Any]]
    label: int | None
    line: int = 0


@dataclass
class PairResult:
    id: str
    label: int | None
    votes: list[int | None]
    choice: int | None
    correct: bool | None
    tie: bool
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class VoteSummary:
    pairs: int = 0
    labelled: int = 0
    k: int = 0
    correct: int = 0
    accuracy: float | None = None  # Voting@k
    accuracy_at_1: float | None = None  # the first sample alone
    vote_accuracy: float | None = None  # all single votes pooled
    correct_at_1: int = 0
    votes: int = 0
    correct_votes: int = 0
    ties: int = 0
    invalid_votes: int = 0
    bad_rows: int = 0
    requests: int = 0
    seconds: float = 0.0
    prompt: str = "builtin"
    reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def majority(votes: Sequence[int | None], tie_break: str = "none") -> tuple[int | None, bool]:
    """(choice, tie). Invalid votes (None) do not count."""
    counts = Counter(v for v in votes if v in (1, 2))
    if counts[1] != counts[2]:
        return (1 if counts[1] > counts[2] else 2), False
    if tie_break == "first":
        first = next((v for v in votes if v in (1, 2)), None)
        return first, True
    return None, True


def _image_part(path: str, root: Path | None) -> dict[str, Any] | None:
    p = Path(path)
    if not p.is_absolute() and root is not None:
        p = root / p
    if not p.is_file():
        return None
    mime = mimetypes.guess_type(p.name)[0] or "image/png"
    data = base64.b64encode(p.read_bytes()).decode("ascii")
    return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{data}"}}


def pair_from_row(
    row: Mapping[str, Any],
    index: int,
    order: str = "shuffle",
    template: Any = None,
    image_root: Path | None = None,
    images: bool = True,
) -> Pair:
    """Turn one input row into a :class:`Pair`; a ConfigError says what the row lacks."""
    rid = str(row.get("id", index))
    label = None
    for col in ("label", "preference", "solution"):
        if row.get(col) is not None:
            label = parse_choice(row[col])
            break
    ready = row.get("messages", row.get("prompt"))
    if ready is not None:
        messages = [{"role": "user", "content": ready}] if isinstance(ready, str) else [dict(m) for m in ready]
        return Pair(rid, messages, label, index)
    question = row.get("question", row.get("problem"))
    if "response1" in row and "response2" in row:
        r1, r2 = row["response1"], row["response2"]
    elif "chosen" in row and "rejected" in row:
        swap = order == "shuffle" and hashlib.sha256(rid.encode()).digest()[0] & 1
        r1, r2 = (row["rejected"], row["chosen"]) if swap else (row["chosen"], row["rejected"])
        label = 2 if swap else 1
    else:
        raise ConfigError("a pair row needs response1/response2, chosen/rejected, or messages/prompt")
    if question is None:
        raise ConfigError("a pair row needs a question (or problem) column")
    fields = {"question": str(question), "response1": str(r1), "response2": str(r2)}
    if template is not None:
        messages = template.render(**fields)
    else:
        messages = [{"role": "user", "content": PAIRWISE_PROMPT.format(**fields)}]
    paths = row.get("image")
    paths = [paths] if isinstance(paths, str) else list(paths or [])
    parts = [part for part in (_image_part(p, image_root) for p in paths) if part] if images else []
    if parts:
        last = messages[-1]
        messages[-1] = {**last, "content": [*parts, {"type": "text", "text": last["content"]}]}
    return Pair(rid, messages, label, index)


def read_choice(text: str | None) -> int | None:
    """A vote from a reply: the ``<answer>`` must hold 1 or 2."""
    return parse_choice(extract_answer(text)) if text else None


async def vote_pairs(
    pairs: Sequence[Pair],
    backend: Any,
    k: int,
    temperature: float,
    deadline_s: float,
    tie_break: str = "none",
) -> list[PairResult]:
    """k samples per pair in one concurrent batch bounded by ``deadline_s``."""
    conversations = [p.messages for p in pairs for _ in range(k)]
    replies = await backend.complete_many(conversations, time.monotonic() + deadline_s, temperature=temperature)
    out = []
    for i, pair in enumerate(pairs):
        mine = replies[i * k : (i + 1) * k]
        votes = [read_choice(r.text) for r in mine]
        reasons = Counter(r.reason if r.text is None else ("ok" if v else "no_choice") for r, v in zip(mine, votes))
        choice, tie = majority(votes, tie_break)
        correct = None if pair.label is None else choice == pair.label
        out.append(PairResult(pair.id, pair.label, votes, choice, correct, tie, dict(reasons)))
    return out


def summarize(results: Iterable[PairResult], k: int, summary: VoteSummary | None = None) -> VoteSummary:
    s = summary or VoteSummary(k=k)
    s.k = k
    for r in results:
        s.pairs += 1
        s.ties += int(r.tie)
        s.invalid_votes += sum(v is None for v in r.votes)
        for reason, n in r.reasons.items():
            s.reasons[reason] = s.reasons.get(reason, 0) + n
        if r.label is None:
            continue
        s.labelled += 1
        s.correct += int(bool(r.correct))
        s.correct_at_1 += int(bool(r.votes) and r.votes[0] == r.label)
        s.correct_votes += sum(v == r.label for v in r.votes)
        s.votes += len(r.votes)
    if s.labelled:
        s.accuracy = s.correct / s.labelled
        s.accuracy_at_1 = s.correct_at_1 / s.labelled
        s.vote_accuracy = s.correct_votes / s.votes if s.votes else None
    return s


def _chunks(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def run_vote(
    input_path: str | Path,
    output_path: str | Path,
    backend_params: Mapping[str, Any],
    k: int = 5,
    temperature: float = 0.7,
    deadline_s: float = 600.0,
    chunk_size: int = 64,
    order: str = "shuffle",
    tie_break: str = "none",
    image_root: str | Path | None = None,
    template: str | None = "auto",
    on_bad_row: Any = None,
) -> VoteSummary:
    """Vote over a JSONL of pairs, streaming: per-pair results to ``output_path``."""
    import asyncio

    from vlmr1.documents import iter_jsonl

    from .backend import get_backend

    if k < 1:
        raise ConfigError("--k must be at least 1")
    if k > 1 and temperature <= 0:
        raise ConfigError(f"k={k} samples at temperature {temperature} repeat one verdict; set a temperature > 0 (R1-Reward samples at about 0.7-1.0)")
    if tie_break not in ("none", "first"):
        raise ConfigError(f"tie_break must be 'none' or 'first', not {tie_break!r}")
    backend = get_backend(backend_params)
    tmpl = _template(template)
    root = Path(image_root) if image_root else Path(input_path).resolve().parent
    summary = VoteSummary(k=k, prompt=f"template:{tmpl.name}" if tmpl is not None else "builtin")
    start = time.monotonic()
    requests_before = backend.stats.requests

    def pairs() -> Iterator[Pair]:
        for index, (line, row, error) in enumerate(iter_jsonl(input_path)):
            if error is None:
                try:
                    yield pair_from_row(row, index, order, tmpl, root, images=backend.kind == "openai")
                    continue
                except (ConfigError, KeyError, TypeError, ValueError) as exc:
                    error = str(exc)
            summary.bad_rows += 1
            if on_bad_row is not None:
                on_bad_row(line, error)

    out = Path(output_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for chunk in _chunks(pairs(), max(1, chunk_size)):
            results = asyncio.run(vote_pairs(chunk, backend, k, temperature, deadline_s, tie_break))
            for r in results:
                fh.write(json.dumps(asdict(r)) + "\n")
            summarize(results, k, summary)
    tmp.replace(out)
    summary.requests = backend.stats.requests - requests_before
    summary.seconds = round(time.monotonic() - start, 3)
    return summary


def _template(name: str | None) -> Any:
    """``"auto"``: the registered ``pairwise`` template when a plugin provides it (the
    prompt the policy was trained with), else the built-in prompt; ``None``: built-in."""
    if not name:
        return None
    from vlmr1.registry import get_registry

    registry = get_registry()
    if name == "auto":
        return registry.templates.get("pairwise")
    return registry.template(name)
