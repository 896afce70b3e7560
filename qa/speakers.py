"""Speaker attribution of reported speech (being written; see issue 4)."""
from __future__ import annotations

from pathlib import Path

from .types import Document, Sentence

SPEAKER_VERSION = "0"


def load_aliases(corpus: Path) -> dict[str, str]:
    return {}


def attribute_speakers(doc: Document, sentences: list[Sentence], aliases: dict[str, str]) -> None:
    return None
