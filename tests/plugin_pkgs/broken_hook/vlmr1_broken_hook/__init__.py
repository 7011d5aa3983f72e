"""Imports fine, then fails inside its hook, as a plugin does that looks for a missing file."""

import vlmr1


@vlmr1.hookimpl
def register_rewards(register):
    raise RuntimeError("broken_hook cannot find its lexicon file")
