"""Markdown for the job summary from text the action did not write (Azure's errors, a smoke
test's response body, names from the deploy file): shown as written, never interpreted.

GitHub renders the summary as GitHub Flavored Markdown with some HTML. Text in a table cell or
a sentence has every character that can start markup backslash-escaped (GFM's escapes: no
link, image, emphasis or HTML tag can form), `|` written as `&#124;` so it cannot end a cell,
and line breaks folded. Longer text goes in a fenced code block whose fence is longer than any
run of backticks inside it. Everything is bounded in length.
"""

from __future__ import annotations

import re

MAX_CELL = 300  # characters of untrusted text in one table cell
MAX_BLOCK = 4000  # characters of untrusted text in one code block
# What can start markup in GFM: emphasis, code, links and images, HTML and entities, headings,
# strikethrough. `|` is written as an entity instead (a backslash does not stop it ending a
# table cell in every renderer).
_PUNCTUATION = frozenset("\\`*_{}[]()<>#!~&")
_BACKTICKS = re.compile(r"`+")


def _bounded(text: str, limit: int) -> str:
    text = text.encode("utf-8", "replace").decode("utf-8")
    if len(text) <= limit:
        return text
    return text[:limit] + f" … ({len(text) - limit} more characters not shown)"


def text(value: str, limit: int = MAX_CELL) -> str:
    """`value` as literal text on one line (a table cell, a sentence)."""
    one_line = " ".join(_bounded(value, limit).split())
    return "".join(
        "&#124;" if char == "|" else f"\\{char}" if char in _PUNCTUATION else char
        for char in one_line
    )


def code(value: str, limit: int = MAX_CELL) -> str:
    """`value` as inline code in a table cell: inside <code>, every character that can start
    markup written as a numeric entity. GFM still parses Markdown between inline HTML tags, so
    `<code>[x](y)</code>` would be a link; an entity is only ever the character itself."""
    one_line = " ".join(_bounded(value, limit).split())
    escaped = "".join(
        f"&#{ord(char)};" if char in _PUNCTUATION or char == "|" else char for char in one_line
    )
    return f"<code>{escaped}</code>"


def block(value: str, limit: int = MAX_BLOCK) -> str:
    """`value` verbatim in a fenced code block that nothing inside it can close."""
    content = _bounded(value, limit).rstrip("\n")
    longest = max((len(run) for run in _BACKTICKS.findall(content)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{content}\n{fence}"
