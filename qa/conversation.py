"""Conversations: a sequence of questions where follow-ups may depend on earlier turns.

Front ends (TUI, `qa chat`, `qa batch` rows sharing a conversation id) hold one `Conversation`
per dialogue and call `ask` on it; the engine owns the state.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Optional

from .types import Answer

if TYPE_CHECKING:
    from .engine import Archive


@dataclass
class Turn:
    asked: str
    interpreted: str
    answer: Answer
    docs: Optional[list[str]] = None


@dataclass
class Conversation:
    archive: "Archive"
    turns: list[Turn] = field(default_factory=list)

    def ask(self, question: str, k: int = 5, docs: Optional[Iterable[str]] = None) -> Answer:
        docs = list(docs) if docs is not None else None
        answer = self.archive.ask(question, k=k, docs=docs)
        self.turns.append(Turn(question, answer.interpreted or answer.question, answer, docs))
        return answer

    def reset(self) -> None:
        self.turns.clear()
