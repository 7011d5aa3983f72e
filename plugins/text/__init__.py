"""First-party plugin ``text``: answers compared as text (``all_match``, ``fuzzy``,
``default_accuracy``) and shaping rewards (``cosine_length``, ``repetition``).

Importing this module is cheap: rapidfuzz loads on first use, math-verify in the workers
of the rewards that need it. See docs/rewards/text.md.
"""

from __future__ import annotations

from vlmr1.hookspecs import hookimpl
from vlmr1.types import Reward

from .match import (
    CHAIN_DEFAULTS,
    FUZZY_DEFAULTS,
    MATCH_DEFAULTS,
    all_match_batch,
    chain_score,
    chain_warmup,
    check_fuzzy,
    check_match,
    fuzzy_batch,
)
from .shaping import COSINE_DEFAULTS, REPETITION_DEFAULTS, check_cosine, check_repetition, cosine_score, repetition_batch

__all__ = ["register_rewards"]


@hookimpl
def register_rewards(register) -> None:  # noqa: ANN001 - the core's callback
    register(Reward(
        "all_match",
        doc="1.0 if the answer equals the solution after normalising both (NFKC, case-folded, spaces "
        "collapsed, trailing dots dropped), else 0.0 (different). params: compat (vlm-r1: VLM-R1's "
        "clean_text), require_tags, max_chars.",
        score_batch=all_match_batch, cheap=True, defaults=dict(MATCH_DEFAULTS), check_params=check_match))
    register(Reward(
        "fuzzy",
        doc="Similarity of answer and solution with rapidfuzz (scorer ratio = Levenshtein.ratio, "
        "levenshtein, token_sort_ratio, token_set_ratio, partial_ratio), or 1/0 against threshold. "
        "params: scorer, threshold, compat, require_tags, max_chars.",
        score_batch=fuzzy_batch, cheap=True, defaults=dict(FUZZY_DEFAULTS), check_params=check_fuzzy))
    register(Reward(
        "default_accuracy",
        doc="VLM-R1's default accuracy chain: 1.0 if math-verify finds answer and solution equal, else "
        "(solution has a digit) numeric equality or similarity, else (solution names a letter) the "
        "letter, else similarity. Runs isolated. params: max_chars.",
        score=chain_score, warmup=chain_warmup, defaults=dict(CHAIN_DEFAULTS)))
    register(Reward(
        "cosine_length",
        doc="Length-scaled correctness on open-r1's cosine schedule, progress clamped at max_len (not "
        "periodic): short correct answers score most, long wrong ones are penalised least. params: "
        "min/max_value_correct/wrong, max_len, unit (chars|words), correct (math|exact|always).",
        score=cosine_score, defaults=dict(COSINE_DEFAULTS), check_params=check_cosine))
    register(Reward(
        "repetition",
        doc="N-gram repetition penalty max_penalty*(1 - distinct/total) over lower-cased word n-grams "
        "(<= 0); boxes: true judges a JSON list of labelled boxes by its items. params: ngram_size, "
        "max_penalty, boxes, max_chars.",
        score_batch=repetition_batch, cheap=True, defaults=dict(REPETITION_DEFAULTS), check_params=check_repetition))
