"""Speed measurements, printed as a Markdown table (`make bench`).

    python scripts/bench.py                 # every benchmark
    python scripts/bench.py batch --n 2000  # one of them, with options

Timings depend on the machine and on what else runs on it: compare runs on the same machine.
Each benchmark is a function returning `Measurement`s; add new ones to BENCHMARKS.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's qa, not whichever one is installed

SQUAD = ROOT.parent / "shared" / "bench" / "squad" / "dev-v1.1.json"


@dataclass
class Measurement:
    benchmark: str
    what: str
    n: int
    seconds: float
    cpu: float  # CPU seconds (all threads): less sensitive than wall time to other work on the machine
    unit: str = "questions"

    @property
    def rate(self) -> str:
        return f"{self.n / self.seconds:,.1f} {self.unit}/s" if self.seconds > 0 else "-"


class Skipped(Exception):
    """A benchmark whose data is not on this machine."""


def squad_questions(path: Path, n: int) -> list[dict]:
    """The first n questions of SQuAD v1.1 dev, in file order, with their SQuAD ids."""
    if not path.is_file():
        raise Skipped(f"{path} is not present")
    data = json.loads(path.read_text("utf-8"))
    rows = [
        {"id": qa["id"], "question": qa["question"]}
        for article in data["data"]
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
    ]
    if len(rows) < n:
        raise Skipped(f"{path} has only {len(rows)} questions")
    return rows[:n]


def bench_batch(args) -> list[Measurement]:
    """`qa batch` throughput on SQuAD questions asked of the seeds archive.

    The questions are not about the seeds; this measures speed, not quality. Three numbers:
    the whole command as a user runs it (process start and model load included), the batch
    itself with the archive already open, and the question embedding alone.
    """
    from qa.batch import WINDOW, run_batch
    from qa.batch_input import read_questions
    from qa.batch_output import open_output
    from qa.engine import Archive

    rows = squad_questions(args.squad, args.n)
    corpus, index = Path(args.corpus), Path(args.index)
    # Built or refreshed before anything is timed.
    archive = Archive.open(corpus, index, log=lambda m: print(m, file=sys.stderr))
    out: list[Measurement] = []
    with tempfile.TemporaryDirectory() as tmp:
        questions = Path(tmp) / "squad.jsonl"
        questions.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")

        cmd = [sys.executable, "-m", "qa", "batch", str(questions), "-o", str(Path(tmp) / "cli.jsonl")]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        proc = subprocess.run([*cmd, "--corpus", str(corpus), "--index", str(index)], env=env, cwd=ROOT, capture_output=True, text=True)
        seconds = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise RuntimeError(f"qa batch failed ({proc.returncode}): {proc.stderr[-500:]}")
        cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
        out.append(Measurement("batch", "`qa batch` command (start, model load, answer, write)", len(rows), seconds, cpu))

        archive.encoder.load()
        loaded = read_questions(str(questions))
        writer, _ = open_output(str(Path(tmp) / "lib.jsonl"), "jsonl", loaded.columns, loaded.name, False, sys.stdout)
        t, c = time.perf_counter(), time.process_time()
        try:
            report = run_batch(archive, loaded.rows, writer, k=5)
        finally:
            writer.close()
        out.append(
            Measurement("batch", "`run_batch`, archive open (answer, write)", report.written, time.perf_counter() - t, time.process_time() - c)
        )

        texts = [r["question"] for r in rows]
        t, c = time.perf_counter(), time.process_time()
        for lo in range(0, len(texts), WINDOW):
            archive.embed_questions(texts[lo : lo + WINDOW])
        out.append(
            Measurement("batch", f"of which question embedding ({WINDOW} per call)", len(texts), time.perf_counter() - t, time.process_time() - c)
        )
    return out


BENCHMARKS = {"batch": bench_batch}


def table(measurements: list[Measurement]) -> str:
    lines = ["| benchmark | measurement | n | seconds | CPU seconds | rate |", "|---|---|---:|---:|---:|---:|"]
    for m in measurements:
        lines.append(f"| {m.benchmark} | {m.what} | {m.n:,} | {m.seconds:.2f} | {m.cpu:.2f} | {m.rate} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benchmarks", nargs="*", metavar="BENCHMARK", help=f"{' | '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--n", type=int, default=1000, help="questions for the batch benchmark (default 1000)")
    parser.add_argument("--squad", type=Path, default=SQUAD, help="SQuAD v1.1 dev JSON")
    parser.add_argument("--corpus", default=str(ROOT / "seeds"))
    parser.add_argument("--index", default=str(ROOT / "index"))
    args = parser.parse_args(argv)
    unknown = [b for b in args.benchmarks if b not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)} (choose from {', '.join(BENCHMARKS)})")
    measurements: list[Measurement] = []
    for name in args.benchmarks or BENCHMARKS:
        try:
            measurements += BENCHMARKS[name](args)
        except Skipped as exc:
            print(f"{name}: skipped: {exc}", file=sys.stderr)
    print(table(measurements))
    return 0


if __name__ == "__main__":
    sys.exit(main())
