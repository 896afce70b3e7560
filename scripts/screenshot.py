"""Render the README screenshot: the TUI answering a question, saved with `App.save_screenshot()`.

    python scripts/screenshot.py                      # docs/tui.svg, seeds, 110x34
    python scripts/screenshot.py --question "..." --size 120x40 --out /tmp/shot.svg
"""
from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.tui.app import QaApp  # noqa: E402
from qa.tui.widgets import QuestionInput  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--question", default="What did Rusk say about July?")
    p.add_argument("--corpus", type=Path, default=ROOT / "seeds")
    p.add_argument("--index", type=Path, help="index folder (default: the corpus's default index)")
    p.add_argument("--size", default="110x34", help="terminal WIDTHxHEIGHT")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "tui.svg")
    args = p.parse_args()
    width, height = (int(x) for x in args.size.lower().split("x"))

    app = QaApp(args.corpus, args.index)

    async def pilot_script(pilot) -> None:
        app.query_one(QuestionInput).cursor_blink = False  # a screenshot must not catch a blink
        await pilot.press(*args.question, "enter")
        while app.busy:  # the archive opens and the question is answered in workers
            await app.workers.wait_for_complete()
            await pilot.pause()
            await asyncio.sleep(0.05)
        await pilot.pause()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        app.save_screenshot(args.out.name, path=str(args.out.parent))
        app.exit()

    app.run(headless=True, size=(width, height), auto_pilot=pilot_script)
    if app.open_error:
        print(f"screenshot.py: {app.open_error}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
