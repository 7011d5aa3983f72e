"""Fails at import, as a plugin does whose own dependency is missing."""

import vlmr1_dependency_that_is_not_installed  # noqa: F401

import vlmr1


@vlmr1.hookimpl
def register_rewards(register):  # pragma: no cover - never reached
    raise AssertionError("an unimportable module registered something")
