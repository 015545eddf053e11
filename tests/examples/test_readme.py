"""The README's "Use it from your code" links every example, and every example has its test."""

from __future__ import annotations

import re

from .support import EXAMPLES

README = (EXAMPLES.parent / "README.md").read_text()
TESTS = EXAMPLES.parent / "tests" / "examples"


def test_every_example_is_linked_from_the_readme_and_tested() -> None:
    examples = [*(p.name for p in EXAMPLES.glob("*.py")), "no_code"]
    linked = re.findall(r"\]\(examples/([\w.]+)", README)
    assert sorted(linked) == sorted(examples)
    for name in examples:
        assert (TESTS / f"test_{name.removesuffix('.py')}.py").exists(), name
