"""Registers a reward named ``ocr``, the name vlmr1-reward-ocr already uses."""

import vlmr1


def score(sample, gold, params):
    return vlmr1.Verdict(0.5, "clash")


@vlmr1.hookimpl
def register_rewards(register):
    register(vlmr1.Reward("ocr", score=score, cheap=True, doc="A second reward named ocr."))
