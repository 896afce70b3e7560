"""Speed and memory of `qa grade` on a synthetic class quiz (fold into scripts/bench.py).

    python scripts/bench_grade.py [--rows 1000]

Rows pair the questions of tests/data/quiz_seeds*.csv with answers taken from any of their rows
(so most are wrong, as in a real class some are), prefixed with hedges so that every answer text
is new; 30 students.  Reports rows per second and the peak resident memory.
"""
from __future__ import annotations

import argparse
import csv
import io
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_ROWS_PER_SECOND = 3.0  # on 2 shared CPU cores, index warm, model loaded


def synthetic_quiz(n: int) -> Path:
    rows = []
    for name in ("quiz_seeds.csv", "quiz_seeds_heldout.csv"):
        with (ROOT / "tests" / "data" / name).open(encoding="utf-8", newline="") as f:
            rows += list(csv.DictReader(f))
    questions = sorted({r["question"] for r in rows})
    answers = sorted({r["answer"] for r in rows})
    hedges = ["", "I think ", "Maybe ", "I believe that ", "Answer: ", "Perhaps "]
    pool = [(q, h + a) for q in questions for a in answers for h in hedges]
    random.Random(7).shuffle(pool)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["id", "student", "question", "answer"])
    for i, (q, a) in enumerate(pool[:n]):
        w.writerow([i, f"s{i % 30:02d}", q, a])
    path = Path(tempfile.mkdtemp(prefix="bench-grade-")) / "quiz.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1000)
    args = ap.parse_args()
    from qa.engine import Archive
    from qa.grade import grade_file, read_rows

    quiz = synthetic_quiz(args.rows)
    archive = Archive.open(ROOT / "seeds", ROOT / "index", log=lambda m: None)
    archive.encoder.load()
    rows = list(read_rows(quiz))
    t0 = time.perf_counter()
    summary = grade_file(archive, quiz, io.StringIO(), "jsonl", rows=rows)
    seconds = time.perf_counter() - t0
    rate = len(rows) / seconds
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"graded {summary.graded} rows in {seconds:.1f}s: {rate:.1f} rows/s (target >= {TARGET_ROWS_PER_SECOND}), "
          f"peak RSS {peak_mb:.0f} MB")
    return 0 if rate >= TARGET_ROWS_PER_SECOND else 1


if __name__ == "__main__":
    sys.exit(main())
