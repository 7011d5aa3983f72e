"""Written for the old two-concept API: a verifier, and a reward that names it."""

import vlmr1


def extract(completion, params):
    return completion


def compare(answer, gold, sample, params):
    return vlmr1.Verdict(float(answer == gold))


@vlmr1.hookimpl
def register_verifiers(register):
    register(vlmr1.Verifier("old_exact", extract=extract, compare=compare))


@vlmr1.hookimpl
def register_rewards(register):
    register(vlmr1.Reward("old_exact", verifier="old_exact"))
