"""Every hook spec is documented with its exact signature and exercised by a test."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from vlmr1 import hookspecs

ROOT = Path(__file__).resolve().parents[1]
HOOKS = sorted(
    name for name, fn in vars(hookspecs).items() if callable(fn) and hasattr(fn, "vlmr1_spec")
)


def test_there_are_hooks():
    assert HOOKS == ["register_commands", "register_prompt_templates", "register_report_views", "register_rewards",
                     "register_verifiers"]


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_documented_with_exact_signature(hook):
    fn = getattr(hookspecs, hook)
    signature = f"def {hook}{inspect.signature(fn)}".replace("'", "")
    docs = (ROOT / "docs" / "hooks.md").read_text()
    assert f"## {hook}" in docs, f"docs/hooks.md has no section for {hook}"
    documented = re.findall(rf"^def {hook}\(.*\) -> .*$", docs, flags=re.M)
    assert documented == [signature], f"docs/hooks.md documents {documented}, code says {signature}"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test(hook):
    uses = [p for p in (ROOT / "tests").glob("test_*.py") if p.name != Path(__file__).name and f"def {hook}(" in p.read_text()]
    assert uses, f"no test implements the hook {hook}"
