"""First-party plugin ``text``: answers compared as text (``all_match``, ``fuzzy``,
``default_accuracy``) and shaping rewards (``cosine_length``, ``repetition``).

Registering is cheap: the rewards name their functions as text; rapidfuzz loads on first
use, math-verify in the workers of the rewards that need it. See docs/rewards/text.md.
"""

from __future__ import annotations

from typing import Any

from vlmr1.hookspecs import hookimpl
from vlmr1.types import Reward

from .params import CHAIN_DEFAULTS, COSINE_DEFAULTS, FUZZY_DEFAULTS, MATCH_DEFAULTS, REPETITION_DEFAULTS

__all__ = ["register_rewards"]

_MATCH = "vlmr1.plugins.text.match:"
_SHAPING = "vlmr1.plugins.text.shaping:"
_FUNCTIONS = ("score", "score_batch", "triage", "warmup", "check_params")

# name, module, defaults, doc, the functions it names (in that module) and its other fields
_REWARDS: tuple[tuple[str, str, dict[str, Any], str, dict[str, Any]], ...] = (
    ("all_match", _MATCH, MATCH_DEFAULTS,
     "1.0 if the answer equals the solution after normalising both (NFKC, case-folded, spaces "
     "collapsed, trailing dots dropped), else 0.0 (different). params: compat (vlm-r1: VLM-R1's "
     "clean_text), require_tags, max_chars.",
     {"score_batch": "all_match_batch", "cheap": True, "check_params": "check_match", "needs": ("solution",)}),
    ("fuzzy", _MATCH, FUZZY_DEFAULTS,
     "Similarity of answer and solution with rapidfuzz (scorer ratio = Levenshtein.ratio, "
     "levenshtein, token_sort_ratio, token_set_ratio, partial_ratio), or 1/0 against threshold. "
     "params: scorer, threshold, compat, require_tags, max_chars.",
     {"score_batch": "fuzzy_batch", "cheap": True, "check_params": "check_fuzzy", "needs": ("solution",)}),
    ("default_accuracy", _MATCH, CHAIN_DEFAULTS,
     "VLM-R1's default accuracy chain: 1.0 if math-verify finds answer and solution equal, else "
     "(solution has a digit) numeric equality or similarity, else (solution names a letter) the "
     "letter, else similarity. Runs isolated. params: max_chars.",
     {"score": "chain_score", "warmup": "chain_warmup", "needs": ("solution",)}),
    ("cosine_length", _SHAPING, COSINE_DEFAULTS,
     "Length-scaled correctness on open-r1's cosine schedule, progress clamped at max_len (not "
     "periodic): short correct answers score most, long wrong ones are penalised least. params: "
     "min/max_value_correct/wrong, max_len, unit (chars|words), correct (math|exact|always; only "
     "math runs isolated).",
     {"score": "cosine_score", "triage": "cosine_triage", "check_params": "check_cosine"}),
    ("repetition", _SHAPING, REPETITION_DEFAULTS,
     "N-gram repetition penalty max_penalty*(1 - distinct/total) over lower-cased word n-grams "
     "(<= 0); boxes: true judges a JSON list of labelled boxes by its items. params: ngram_size, "
     "max_penalty, boxes, max_chars.",
     {"score_batch": "repetition_batch", "cheap": True, "check_params": "check_repetition"}),
)


@hookimpl
def register_rewards(register) -> None:  # noqa: ANN001 - the core's callback
    for name, module, defaults, doc, fields in _REWARDS:
        named = {k: module + v if k in _FUNCTIONS else v for k, v in fields.items()}
        register(Reward(name, doc=doc, defaults=dict(defaults), **named))
