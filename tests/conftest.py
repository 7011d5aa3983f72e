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
