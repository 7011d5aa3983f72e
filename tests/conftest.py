"""Tests run with no third-party plugins unless they ask for them, and each test
gets a fresh process-wide registry."""

from __future__ import annotations

import os

import pytest

os.environ["VLMR1_PLUGINS"] = ""


@pytest.fixture(autouse=True)
def _fresh_registry(monkeypatch):
    from vlmr1 import registry

    monkeypatch.setenv("VLMR1_PLUGINS", "")
    previous = registry.set_registry(None)
    yield
    registry.set_registry(previous)


@pytest.fixture()
def fresh_judge():
    """The judge plugin's process-wide backends and verdict caches, empty before and after
    a test, so no test sees another's judge or cached verdicts (``usefixtures("fresh_judge")``)."""
    from vlmr1.plugins.judge.backend import reset_backends
    from vlmr1.plugins.judge.cache import clear_shared_caches

    clear_shared_caches()
    reset_backends()
    yield
    clear_shared_caches()
    reset_backends()
