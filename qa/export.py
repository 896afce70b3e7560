"""Plain-text renderings of answers that leave the program: clipboard citations, Markdown files.

Quotes are copied byte-for-byte (no whitespace folding): what a historian pastes must be exactly
what the document says.
"""
from __future__ import annotations

from typing import Iterable, Optional, Sequence

from .types import Answer, Extract

NO_ANSWER = "No passage in this archive answers that."


def citation_line(ex: Extract) -> str:
    """Who says it and where: '— Rusk, in Telegram …, 1962-10-20, …, line 29'."""
    who = f"{ex.speaker}, in " if ex.speaker else ""
    note = " (archivist's note, not the document's text)" if ex.section == "metadata" else ""
    return f"— {who}{ex.reference()}{note}"


def citation_text(ex: Extract) -> str:
    """The quote and its reference, as copied to the clipboard."""
    return f"{ex.quote}\n{citation_line(ex)}"


def blockquote(text: str) -> str:
    lines = text.split("\n")
    return "\n".join(f"> {line}".rstrip() for line in lines)


def extract_markdown(ex: Extract) -> str:
    return f"{blockquote(ex.quote)}\n\n{citation_line(ex)} (confidence {ex.score:.2f})"


def conversation_markdown(title: str, turns: Iterable[tuple[Answer, Optional[Sequence[str]]]]) -> str:
    """A conversation as Markdown: one section per question, quotes as blockquotes.

    `turns` pairs each answer with the documents the search was restricted to (None: all).
    """
    out = [f"# {title}", ""]
    for answer, docs in turns:
        out += [f"## {answer.question}", ""]
        if answer.interpreted and answer.interpreted != answer.question:
            out += [f"*Interpreted as: {answer.interpreted}*", ""]
        if docs:
            out += [f"*Searched only: {', '.join(docs)}*", ""]
        extracts = answer.answers
        if answer.abstained:
            out += [f"**{NO_ANSWER}**", ""]
            extracts = answer.closest
            if extracts:
                out += ["Closest passages (not answers):", ""]
        for ex in extracts:
            out += [extract_markdown(ex), ""]
    return "\n".join(out).rstrip() + "\n"
