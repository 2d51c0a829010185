"""static/css/site.css is plain CSS: every block closed where it should be.

A merge once dropped the closing brace of a rule; browsers that nest CSS then read every
rule after it (the passkey buttons, the "or" divider, checkboxes, the small-screen
passkey list) as applying only inside a visually hidden element, and no test noticed."""

from __future__ import annotations

import re
from pathlib import Path

CSS = Path(__file__).resolve().parents[2] / "static" / "css" / "site.css"


def _blocks() -> list[tuple[int, str]]:
    """(depth, selector) for every block opened, comments and strings left out."""
    text = re.sub(r"/\*.*?\*/", "", CSS.read_text(), flags=re.S)
    text = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'', '""', text)
    blocks, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char == "{":
            blocks.append((depth, " ".join(text[start:index].split())))
            depth += 1
            start = index + 1
        elif char == "}":
            depth -= 1
            assert depth >= 0, f"a }} closes nothing near: {text[max(0, index - 80):index]!r}"
            start = index + 1
        elif char == ";" and depth == 0:
            start = index + 1
    assert depth == 0, f"{depth} block(s) never closed"
    return blocks


def test_every_block_is_closed_and_style_rules_sit_at_the_top_or_in_an_at_rule():
    blocks = _blocks()
    parents: list[str] = []
    for depth, selector in blocks:
        del parents[depth:]
        if depth > 0:
            assert parents[-1].startswith("@"), (
                f"{selector!r} is nested inside {parents[-1]!r}: a brace is missing")
        parents.append(selector)


def test_no_selector_is_defined_twice_at_the_top():
    top = [selector for depth, selector in _blocks() if depth == 0
           and not selector.startswith("@")]
    twice = sorted({s for s in top if top.count(s) > 1})
    assert twice == [], f"defined twice (the later one wins silently): {twice}"
