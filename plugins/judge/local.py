"""In-process transformers backend for small judges (a 0.5B-3B instruct model on the
training machine), loaded lazily from a local path.

Generation runs in a worker thread so the event loop (and the batch deadline) stays in
charge; at the deadline a stopping criterion ends generation at the next token and the
unfinished conversations come back as ``judge_timeout``. A reply that used all of
``max_tokens`` without ending its turn was cut off, as a server's ``finish_reason:
"length"`` says: it comes back as ``judge_truncated``, never as a verdict. torch and
transformers are imported only when the first batch arrives.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Any, Sequence

from .client import BackendStats, Messages, Reply


@dataclass(frozen=True)
class LocalSettings:
    model_path: str
    max_tokens: int = 256
    temperature: float = 0.0
    batch_size: int = 8
    device: str | None = None
    dtype: str | None = None


_MODELS: dict[tuple[str, str | None, str | None], tuple[Any, Any]] = {}
_LOAD_LOCK = threading.Lock()


def _load(settings: LocalSettings) -> tuple[Any, Any]:
    key = (settings.model_path, settings.device, settings.dtype)
    with _LOAD_LOCK:
        if key not in _MODELS:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(settings.model_path)
            tokenizer.padding_side = "left"
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            kwargs: dict[str, Any] = {}
            if settings.dtype:
                kwargs["dtype"] = getattr(torch, settings.dtype)
            model = AutoModelForCausalLM.from_pretrained(settings.model_path, **kwargs)
            device = settings.device or ("cuda" if torch.cuda.is_available() else "cpu")
            model.to(device).eval()
            _MODELS[key] = (model, tokenizer)
        return _MODELS[key]


def render(tokenizer: Any, messages: Messages) -> str:
    """The model's own chat template when it has one; a plain transcript otherwise."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
    lines = [f"{m['role']}: {m['content']}" for m in messages]
    return "\n\n".join(lines) + "\n\nassistant:"


class TransformersBackend:
    kind = "transformers"

    def __init__(self, settings: LocalSettings) -> None:
        self.settings = settings
        self.stats = BackendStats()
        self._busy = threading.Lock()  # one generate at a time per backend

    @property
    def model_id(self) -> str:
        return f"local:{self.settings.model_path}"

    async def complete_many(
        self,
        conversations: Sequence[Messages],
        deadline: float,
        temperature: float | None = None,
    ) -> list[Reply]:
        if not conversations:
            return []
        temp = self.settings.temperature if temperature is None else temperature
        out: list[Reply | None] = [None] * len(conversations)
        stop = threading.Event()
        loop = asyncio.get_running_loop()
        job = loop.run_in_executor(None, self._run, list(conversations), temp, deadline, stop, out)
        try:
            await asyncio.wait_for(asyncio.shield(job), timeout=max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            stop.set()
        except Exception as exc:  # loading failed, out of memory, a broken tokenizer
            stop.set()
            self.stats.failures += len(conversations)
            return [r or Reply(None, f"judge_error: {type(exc).__name__}", error=str(exc)[:300]) for r in out]
        replies = []
        for r in out:
            if r is None:
                self.stats.timeouts += 1
                r = Reply(None, "judge_timeout")
            replies.append(r)
        return replies

    def _run(self, conversations: list[Messages], temperature: float, deadline: float, stop: threading.Event, out: list) -> None:
        with self._busy:
            if stop.is_set() or time.monotonic() >= deadline:
                return
            model, tokenizer = _load(self.settings)
            import torch
            from transformers import StoppingCriteria, StoppingCriteriaList

            class _Deadline(StoppingCriteria):
                def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                    late = stop.is_set() or time.monotonic() >= deadline
                    return torch.full((input_ids.shape[0],), late, dtype=torch.bool, device=input_ids.device)

            size = max(1, self.settings.batch_size)
            for lo in range(0, len(conversations), size):
                if stop.is_set() or time.monotonic() >= deadline:
                    return
                chunk = conversations[lo : lo + size]
                start = time.monotonic()
                texts = [render(tokenizer, conv) for conv in chunk]
                enc = tokenizer(texts, return_tensors="pt", padding=True).to(model.device)
                gen: dict[str, Any] = {"max_new_tokens": self.settings.max_tokens, "pad_token_id": tokenizer.pad_token_id}
                if temperature > 0:
                    gen.update(do_sample=True, temperature=temperature)
                else:
                    gen.update(do_sample=False)
                with torch.inference_mode():
                    ids = model.generate(**enc, **gen, stopping_criteria=StoppingCriteriaList([_Deadline()]))
                if stop.is_set() or time.monotonic() >= deadline:
                    return  # cut short: these replies are incomplete
                new = ids[:, enc["input_ids"].shape[1] :]
                decoded = tokenizer.batch_decode(new, skip_special_tokens=True)
                took = time.monotonic() - start
                self.stats.requests += len(chunk)
                self.stats.prompt_tokens += int(enc["attention_mask"].sum())
                self.stats.completion_tokens += int((new != tokenizer.pad_token_id).sum())
                eos = _eos_ids(model, tokenizer)
                for i, text in enumerate(decoded):
                    finished = not eos or any(int(t) in eos for t in new[i])
                    out[lo + i] = Reply(text, "ok", 1, took) if finished else Reply(None, "judge_truncated", 1, took, error=text[-200:])


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    """The token ids that end a turn, as generation stops on them."""
    found = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if found is None:
        found = tokenizer.eos_token_id
    if found is None:
        return set()
    return {int(t) for t in (found if isinstance(found, (list, tuple)) else [found])}
