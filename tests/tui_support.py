"""Helpers shared by the TUI tests: waiting for the app's workers, reading what a card shows."""
from __future__ import annotations

import asyncio
import time

# What Rusk says about July in the telegram (seeds/004_…): read from the document, not from any
# evaluation file. An answer to "What did Rusk say about July?" must quote at least one of them.
RUSK_ON_JULY = [
    "The situation has rapidly worsened, declared Rusk, since July of this year.",
    "Before July the situation caused no alarm.",
    "But from July, Soviet weapons have flowed into Cuba.",
    "All the same, declared Rusk, in July some kind of sudden change took place.",
    "Yes, declared Rusk, but nonetheless Cuba has violated the peace on the continent, nonetheless, "
    "beginning in July, the situation has taken a dangerous turn.",
    "He ended his argument by commenting again that July had brought a change for the worse to the events "
    "in Cuba, and that that greatly alarms the USA government and Americans.",
]
TELEGRAM_TITLE = "Telegram from Soviet Foreign Minister Gromyko to the CC CPSU"
JULY_QUESTION = "What did Rusk say about July?"


def quotes_gold(quote: str) -> bool:
    folded = " ".join(quote.split())
    return any(sentence in folded for sentence in RUSK_ON_JULY)


async def settle(pilot, timeout: float = 180.0) -> None:
    """Wait until the archive is open and every queued question has been answered."""
    app = pilot.app
    deadline = time.monotonic() + timeout
    while True:
        await app.workers.wait_for_complete()
        await pilot.pause()
        if not app.busy:
            await pilot.pause()
            return
        assert time.monotonic() < deadline, "the app did not finish its work in time"
        await asyncio.sleep(0.05)


async def ask(pilot, question: str) -> None:
    """Type a question as a user does (key by key) and submit it."""
    app = pilot.app
    app.query_one("#question").focus()
    await pilot.press(*question)
    await pilot.press("enter")
    await settle(pilot)
