"""TUI speed: time from starting `qa` to the first painted frame (target: under 1 s), and how
long the archive then takes to be ready (index opened, model loaded) while the UI stays usable.

    python scripts/bench_tui.py [--runs 3] [--corpus seeds] [--index DIR]

Each run is a fresh interpreter (imports included, as a user pays them) with the app headless.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIRST_PAINT_TARGET_S = 1.0

CHILD = r"""
import sys, time
t0 = time.perf_counter()
from qa.cli import main  # what the `qa` entry point imports first
from qa.documents import CorpusError; from qa.embed import ModelMissing; from qa.index import IndexError_  # noqa
from qa.tui.app import QaApp
app = QaApp(sys.argv[1] if sys.argv[1] != "-" else None, sys.argv[2] if sys.argv[2] != "-" else None)

async def pilot(p):
    print(f"paint {time.perf_counter() - t0:.4f}", flush=True)
    while app.busy:
        await app.workers.wait_for_complete()
        await p.pause()
    print(f"ready {time.perf_counter() - t0:.4f}", flush=True)
    app.exit()

app.run(headless=True, size=(120, 40), auto_pilot=pilot)
"""


def one_run(corpus: str, index: str) -> tuple[float, float]:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, corpus, index], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    values = dict(line.split() for line in proc.stdout.splitlines() if line.startswith(("paint", "ready")))
    if proc.returncode != 0 or len(values) != 2:
        raise SystemExit(f"bench_tui: the app did not start cleanly:\n{proc.stderr[-2000:]}")
    return float(values["paint"]), float(values["ready"])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--corpus", default="-", help="corpus folder (default: the seeds)")
    p.add_argument("--index", default="-", help="index folder (default: the corpus's default index)")
    args = p.parse_args()
    one_run(args.corpus, args.index)  # warm the OS file cache and make sure the index exists
    runs = [one_run(args.corpus, args.index) for _ in range(args.runs)]
    paint = statistics.median(r[0] for r in runs)
    ready = statistics.median(r[1] for r in runs)
    ok = paint < FIRST_PAINT_TARGET_S
    print(f"first paint: median {paint:.2f}s over {args.runs} runs (target < {FIRST_PAINT_TARGET_S:.1f}s) "
          f"{'OK' if ok else 'MISSED'}")
    print(f"archive ready (index open, model loaded): median {ready:.2f}s")
    return 0 if ok else 1


if __name__ == "__main__":
    t = time.perf_counter()
    code = main()
    print(f"({time.perf_counter() - t:.0f}s)")
    sys.exit(code)
