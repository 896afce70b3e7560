"""Speed and memory, measured next to their baselines in the same run: one Markdown table (`make bench`).

    python scripts/bench.py                  # every benchmark; also writes docs/benchmarks.md
    python scripts/bench.py cold warm        # some of them (printed only, unless --output)
    python scripts/bench.py batch --n 2000   # with options

Timings depend on the machine and on what else runs on it: wall times are medians of repeated
runs, CPU seconds are given where other load would distort wall time, and the load average is
recorded with the machine. Each benchmark is a function returning rows; add new ones to BENCHMARKS.

Data: the seeds, and SQuAD v1.1 dev from ../shared (its 48 articles as documents, written and
indexed under $QA_CACHE/bench, default .cache/bench). Benchmarks needing SQuAD are skipped
without it.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from squad import CACHE, ROOT, SQUAD_V1, write_corpus  # noqa: E402  (also puts ROOT on sys.path)

SQUAD = SQUAD_V1
BENCH_CACHE = CACHE / "bench"
SEEDS = ROOT / "seeds"
JULY = "What did Rusk say about July?"
DOC = ROOT / "docs" / "benchmarks.md"


# -- rows of the table -------------------------------------------------------------------------


@dataclass
class Row:
    benchmark: str
    what: str
    result: str
    target: str = ""
    ok: Optional[bool] = None


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

    def row(self) -> Row:
        return Row(self.benchmark, self.what, f"{self.n:,} in {self.seconds:.2f} s (CPU {self.cpu:.2f} s): {self.rate}")


class Skipped(Exception):
    """A benchmark whose data is not on this machine."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


# -- child processes ---------------------------------------------------------------------------


@dataclass
class ChildRun:
    seconds: float
    cpu: float
    rss_mb: float  # peak resident memory of that process
    returncode: int
    stdout: str
    stderr: str


# Peak RSS is read by the child itself (VmHWM of its own address space): the kernel's ru_maxrss of
# a child also counts the parent's memory before exec, which for this script can be a gigabyte.
HWM_WRAPPER = r"""
import atexit, os, runpy, sys
def _hwm():
    with open("/proc/self/status") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    with open(os.environ["QA_BENCH_HWM"], "w") as out:
        out.write(str(kb))
atexit.register(_hwm)
mode, target, *rest = sys.argv[1:]
sys.argv = [target, *rest]
if mode == "-m":
    runpy.run_module(target, run_name="__main__", alter_sys=True)
else:
    exec(compile(target, "<string>", "exec"), {"__name__": "__main__"})
"""


def run_child(cmd: list[str], env: Optional[dict] = None, timeout: float = 600) -> ChildRun:
    """Run `python -m …` or `python -c …` in a fresh process: wall, CPU (wait4) and its own peak RSS."""
    assert cmd[0] == sys.executable and cmd[1] in ("-m", "-c"), cmd
    hwm = Path(tempfile.mkstemp(prefix="qa-bench-hwm-")[1])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QA_BENCH_HWM": str(hwm), **(env or {})}
    cmd = [sys.executable, "-c", HWM_WRAPPER, *cmd[1:]]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"timed out: {' '.join(cmd)}")
            time.sleep(0.002)
        seconds = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        try:
            rss_kb = int(hwm.read_text() or 0)
        except (OSError, ValueError):
            rss_kb = 0
        finally:
            hwm.unlink(missing_ok=True)
        return ChildRun(
            seconds,
            usage.ru_utime + usage.ru_stime,
            rss_kb / 1024,
            proc.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
        )


def checked(run: ChildRun, what: str) -> ChildRun:
    if run.returncode != 0:
        raise RuntimeError(f"{what} failed ({run.returncode}): {run.stderr[-800:]}")
    return run


def qa_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "qa", *args]


# -- shared fixtures ---------------------------------------------------------------------------


def fast_encoder():
    """The encoder `qa` uses, with its ONNX export made first if missing (what `qa index` does)."""
    from qa.embed import Encoder

    enc = Encoder()
    enc.prepare_for_indexing(log)
    return enc.load()


def seeds_ready() -> None:
    """The project's seeds index exists and is fresh, and the ONNX export exists."""
    from qa.engine import Archive

    fast_encoder()
    Archive.open(SEEDS, ROOT / "index", log=log)


def squad_corpus() -> tuple[Path, Path, list]:
    if not SQUAD.is_file():
        raise Skipped(f"{SQUAD} is not present")
    corpus = BENCH_CACHE / "squad-v1" / "corpus"
    questions = write_corpus(SQUAD, corpus)
    return corpus, BENCH_CACHE / "squad-v1" / "index", questions


def squad_archive(encoder=None):
    """The 48 SQuAD v1.1 dev articles, indexed (built once and cached; `index` rebuilds it)."""
    from qa.engine import Archive

    corpus, index, questions = squad_corpus()
    archive = Archive.open(corpus, index, log=log, encoder=encoder or fast_encoder())
    return archive, questions


def varied_questions(questions, n: int) -> list[str]:
    """n SQuAD questions spread evenly over every article (not the first n of one topic)."""
    step = max(1, len(questions) // n)
    return [q.question for q in questions[::step]][:n]


# -- cold start --------------------------------------------------------------------------------


def bench_cold(args) -> list[Row]:
    """A fresh `qa ask` against bare imports of torch and sentence-transformers, in the same run."""
    seeds_ready()
    commands = {
        "ask": (qa_cmd("ask", JULY, "--json"), {}),
        "ask-torch": (qa_cmd("ask", JULY, "--json"), {"QA_ENCODER": "torch"}),
        "st": ([sys.executable, "-c", "import sentence_transformers"], {}),
        "torch": ([sys.executable, "-c", "import torch"], {}),
    }
    runs: dict[str, list[ChildRun]] = {k: [] for k in commands}
    for name, (cmd, env) in commands.items():  # warm the OS file cache
        checked(run_child(cmd, env), name)
    for _ in range(args.runs):  # interleaved, so a burst of load hits every command alike
        for name, (cmd, env) in commands.items():
            runs[name].append(checked(run_child(cmd, env), name))
    wall = {k: statistics.median(r.seconds for r in v) for k, v in runs.items()}

    def line(name: str) -> str:
        r = runs[name]
        return (
            f"median {wall[name]:.2f} s (min {min(x.seconds for x in r):.2f}, max {max(x.seconds for x in r):.2f}); "
            f"CPU {statistics.median(x.cpu for x in r):.2f} s; peak RSS {statistics.median(x.rss_mb for x in r):.0f} MB"
        )

    ratio = wall["ask"] / wall["st"]
    n = f"{args.runs} runs"
    return [
        Row("cold", f"`qa ask \"{JULY}\" --json`, fresh process ({n})", line("ask")),
        Row("cold", f"the same with sentence-transformers (`QA_ENCODER=torch`, the old path; {n})", line("ask-torch")),
        Row("cold", f"`python -c \"import sentence_transformers\"` ({n})", line("st")),
        Row("cold", f"`python -c \"import torch\"` ({n})", line("torch")),
        Row("cold", "ratio cold `qa ask` / `import sentence_transformers`", f"{ratio:.2f}", "< 1.0", ratio < 1.0),
        Row("cold", "ratio cold `qa ask` / `import torch`", f"{wall['ask'] / wall['torch']:.2f}"),
        Row("cold", "ratio old path (torch) / `import sentence_transformers`", f"{wall['ask-torch'] / wall['st']:.2f}"),
    ]


# -- warm latency ------------------------------------------------------------------------------


def bench_warm(args) -> list[Row]:
    """Per-question latency in one process, over SQuAD questions asked of the SQuAD archive."""
    from qa.retrieve import BM25_DEPTH, DENSE_DEPTH, _top, bm25_scores
    from qa.text import tokens

    archive, questions = squad_archive()
    idx = archive.index
    qs = varied_questions(questions, args.questions)
    for q in qs[:20]:  # first-use costs (lazy tables, caches) are not per-question costs
        archive.ask(q)
    times: dict[str, list[float]] = {"embed": [], "bm25": [], "faiss": [], "full": []}
    for q in qs:
        t = time.perf_counter()
        qvec = archive.encoder.encode([q])[0]
        times["embed"].append(time.perf_counter() - t)
        t = time.perf_counter()
        _top(bm25_scores(idx, tokens(q)), BM25_DEPTH)
        times["bm25"].append(time.perf_counter() - t)
        t = time.perf_counter()
        idx.sent_faiss.search(qvec.reshape(1, -1), DENSE_DEPTH)
        times["faiss"].append(time.perf_counter() - t)
        t = time.perf_counter()
        archive.ask(q)
        times["full"].append(time.perf_counter() - t)
    labels = {
        "embed": "(a) embedding the question alone",
        "bm25": f"(b) BM25 only (scores + top {BM25_DEPTH})",
        "faiss": f"(c) FAISS only (top {DENSE_DEPTH} sentences, {idx.manifest.get('dense_index')})",
        "full": "(d) full pipeline `archive.ask` (embedding, retrieval, reranking, extracts)",
    }
    where = f"{len(qs)} SQuAD questions, {idx.n_sentences:,}-sentence archive, {archive.encoder.backend} encoder"
    rows = [
        Row("warm", f"{labels[k]}; {where}", f"p50 {ms(pct(v, 50))}, p95 {ms(pct(v, 95))}") for k, v in times.items()
    ]
    ratio = pct(times["full"], 50) / pct(times["embed"], 50)
    rows.append(Row("warm", "ratio (d)/(a), p50", f"{ratio:.2f}", "≤ 2.0", ratio <= 2.0))
    return rows


# -- index build -------------------------------------------------------------------------------


def _build_row(what: str, report, target: str = "", threshold: Optional[float] = None) -> Row:
    rate = report.sentences / report.seconds
    return Row(
        "index",
        what,
        f"{report.sentences:,} sentences embedded (+ {report.passages:,} passages pooled) in {report.seconds:.1f} s: "
        f"**{rate:,.0f} sentences/s**",
        target,
        None if threshold is None else rate >= threshold,
    )


def bench_index(args) -> list[Row]:
    """Full builds (seeds, SQuAD's 48 articles) and incremental refreshes after touching one file."""
    from qa.embed import Encoder
    from qa.index import build

    rows = []
    fast = fast_encoder()
    encoders = (
        ("ONNX encoder", lambda: fast),
        # Loaded last: importing torch must not weigh on the ONNX builds (`qa index` never imports it).
        ("sentence-transformers (old path)", lambda: Encoder(backend="torch").load()),
    )
    with tempfile.TemporaryDirectory() as tmp:
        # One untimed build first, as for the cold runs: the timed ones then measure indexing,
        # not the first import of bm25s/scipy/faiss (the `qa index` rows below include it).
        build(SEEDS, Path(tmp) / "warm-up", fast, log=log)
        for n, (name, load) in enumerate(encoders):
            enc = load()
            # The seeds take well under a second: the median of three builds.
            reports = [build(SEEDS, Path(tmp) / f"b{n}-{r}", enc, log=log) for r in range(3)]
            report = sorted(reports, key=lambda r: r.seconds)[1]
            rows.append(_build_row(f"seeds, full build, {name} loaded (median of 3)", report,
                                   "≥ 300 sentences/s" if enc is fast else "", 300 if enc is fast else None))
            del enc
        for name, env in (("", {}), (" (`QA_ENCODER=torch`)", {"QA_ENCODER": "torch"})):
            run = checked(run_child(qa_cmd("index", "--rebuild", "--index", str(Path(tmp) / f"cli{len(env)}")), env), "qa index")
            rows.append(Row("index", f"seeds, `qa index --rebuild`{name} as a user runs it (start-up and model load included)",
                            f"{run.seconds:.1f} s wall, CPU {run.cpu:.1f} s"))

    corpus, index, _ = squad_corpus()
    log("building the SQuAD index (48 articles)…")
    report = build(corpus, index, fast, log=log, force=True)
    rows.append(_build_row("SQuAD v1.1 dev, 48 articles as documents, full build", report, "≥ 300 sentences/s", 300))

    victim = sorted(corpus.glob("*.txt"))[len(list(corpus.glob("*.txt"))) // 2]
    original = victim.read_bytes()
    stat = victim.stat()
    os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    report = build(corpus, index, fast, log=log)
    rows.append(Row("index", "SQuAD: incremental refresh after touching one file (mtime only)",
                    f"{report.seconds:.1f} s; documents re-embedded: {len(report.embedded_documents)}", "re-embeds nothing",
                    not report.embedded_documents))
    try:
        victim.write_bytes(original + b"\nA late note was added to this article for the benchmark.\n")
        report = build(corpus, index, fast, log=log)
        rows.append(Row("index", "SQuAD: incremental refresh after changing one file",
                        f"{report.seconds:.1f} s; re-embedded {report.embedded_documents} "
                        f"({report.embedded_sentences} of {report.sentences:,} sentences)", "re-embeds only that file",
                        report.embedded_documents == [victim.name]))
    finally:
        victim.write_bytes(original)
        build(corpus, index, fast, log=log)
    return rows


# -- batch -------------------------------------------------------------------------------------


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

        cmd = qa_cmd("batch", str(questions), "-o", str(Path(tmp) / "cli.jsonl"), "--corpus", str(corpus), "--index", str(index))
        run = checked(run_child(cmd), "qa batch")
        out.append(Measurement("batch", "`qa batch` command (start, model load, answer, write)", len(rows), run.seconds, run.cpu))

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


def bench_batch_rows(args) -> list[Row]:
    rows = []
    for m in bench_batch(args):
        row = m.row()
        if m.what.startswith("`qa batch` command"):
            row.target, row.ok = "≥ 50 questions/s", m.n / m.seconds >= 50
        rows.append(row)
    return rows


# -- scale -------------------------------------------------------------------------------------

SYNTHETIC_COPIES = 9  # 100k sentences = the 48 real articles + 9 marked synthetic copies of each
SYNTHETIC_MIX = 0.6


class VectorSource:
    """Vectors of texts already embedded in an index, so scale corpora cost no model time.

    With `vary`, a text seen again (a synthetic copy) gets a synthetic vector: its own vector plus
    0.6 × the vector of another sentence picked by hash, renormalised (cosine ≈ 0.85 to the
    original). Copies are thus near, not identical, like paraphrases: neither trivial nor
    impossible for approximate search. Texts never embedded go to the real encoder.
    """

    def __init__(self, loaded, fallback, vary: bool):
        self.vectors: dict[str, np.ndarray] = {}
        for i in range(loaded.n_sentences):
            self.vectors.setdefault(loaded.sentence_text(i), loaded.sent_vecs[i])
        for j in range(loaded.n_passages):
            text = loaded.texts[loaded.pass_doc[j]][loaded.pass_start[j] : loaded.pass_end[j]]
            self.vectors.setdefault(text, loaded.pass_vecs[j])
        self.pool = np.asarray(loaded.sent_vecs)
        self.fallback = fallback
        self.vary = vary
        self.seen: dict[str, int] = {}
        self.embedded = 0

    def encode(self, texts: list[str], progress=None) -> np.ndarray:
        out = np.empty((len(texts), self.pool.shape[1]), dtype=np.float32)
        missing = []
        for i, t in enumerate(texts):
            base = self.vectors.get(t)
            if base is None:
                missing.append(i)
                continue
            k = self.seen.get(t, 0)
            self.seen[t] = k + 1
            if k and self.vary:
                h = int.from_bytes(hashlib.blake2b(f"{k}\0{t}".encode(), digest_size=8).digest(), "little")
                v = base + SYNTHETIC_MIX * self.pool[h % len(self.pool)]
                out[i] = v / np.linalg.norm(v)
            else:
                out[i] = base
        if missing:
            out[missing] = self.fallback.encode([texts[i] for i in missing])
            self.embedded += len(missing)
        if progress is not None:
            progress(len(texts))
        return out


def _scale_corpora(source_corpus: Path) -> dict[str, Path]:
    """~1k: the first articles; ~10k: all 48; ~100k: all 48 plus marked synthetic copies."""
    from qa.index import load

    files = sorted(source_corpus.glob("*.txt"))
    small = BENCH_CACHE / "scale-1k" / "corpus"
    big = BENCH_CACHE / "scale-100k" / "corpus"
    counts = load(BENCH_CACHE / "squad-v1" / "index").manifest["documents"]
    wanted, total = [], 0
    for f in files:
        if total >= 1000:
            break
        wanted.append(f)
        total += counts[f.name]["sentences"][1] - counts[f.name]["sentences"][0]
    _mirror(small, {f.name: f.read_bytes() for f in wanted})
    docs = {f.name: f.read_bytes() for f in files}
    for c in range(1, SYNTHETIC_COPIES + 1):
        for f in files:
            text = f.read_text("utf-8")
            head, _, body = text.partition("\n")  # "# Title" first: mark the copy where a reader looks
            docs[f"synthetic-{c}-{f.name}"] = f"{head} [synthetic copy {c}]\n{body}".encode()
    _mirror(big, docs)
    return {"1k": small, "10k": source_corpus, "100k": big}


def _mirror(folder: Path, files: dict[str, bytes]) -> None:
    """Make folder hold exactly these files, leaving unchanged ones untouched (their index stays fresh)."""
    folder.mkdir(parents=True, exist_ok=True)
    for p in folder.iterdir():
        if p.name not in files:
            p.unlink()
    for name, data in files.items():
        p = folder / name
        if not p.exists() or p.read_bytes() != data:
            p.write_bytes(data)


def _disk_mb(gen: Path) -> float:
    return sum(f.stat().st_size for f in gen.rglob("*") if f.is_file()) / 1e6


CHILD_ASK = r"""
import sys
from qa.engine import Archive
archive = Archive.open(sys.argv[1], sys.argv[2], refresh=False, log=lambda m: None)
assert archive.ask(sys.argv[3]) is not None
"""


def bench_scale(args) -> list[Row]:
    """Query latency, index size and memory at ~1k, ~10k and ~100k sentences; exact vs HNSW."""
    from qa.engine import Archive
    from qa.index import EXACT_SEARCH_LIMIT

    source, questions = squad_archive()
    qs = varied_questions(questions, args.questions)
    qvecs = source.encoder.encode(qs)
    corpora = _scale_corpora(source.corpus)
    rows, p50 = [], {}
    for label, corpus in corpora.items():
        index = source.index_dir if label == "10k" else corpus.parent / "index"
        vectors = VectorSource(source.index, source.encoder, vary=label == "100k")
        t = time.perf_counter()
        archive = Archive.open(corpus, index, log=log, encoder=source.encoder if label == "10k" else vectors)
        built = archive.last_build
        build_note = f"built in {time.perf_counter() - t:.0f} s" if built else "index cached from an earlier run"
        archive.encoder = source.encoder  # questions are embedded by the real encoder
        idx = archive.index
        for q in qs[:20]:
            archive.ask(q)
        lat = []
        for q in qs:
            t = time.perf_counter()
            archive.ask(q)
            lat.append(time.perf_counter() - t)
        p50[label] = pct(lat, 50)
        # Recall@10 of the sentence index actually used, against exact inner products.
        _, got = idx.sent_faiss.search(np.ascontiguousarray(qvecs, dtype=np.float32), 10)
        sims = qvecs @ np.asarray(idx.sent_vecs).T
        exact = np.argpartition(-sims, 10, axis=1)[:, :10]
        recall = float(np.mean([len(set(g) & set(e)) / 10 for g, e in zip(got, exact)]))
        child = checked(run_child([sys.executable, "-c", CHILD_ASK, str(corpus), str(index), JULY]), "scale child")
        kind = idx.manifest.get("dense_index")
        synthetic = " (48 real articles + 9 **synthetic** copies each)" if label == "100k" else ""
        rows.append(Row(
            "scale",
            f"~{label}: {idx.n_sentences:,} sentences{synthetic}, FAISS {kind}",
            f"query p50 {ms(p50[label])} (p95 {ms(pct(lat, 95))}); recall@10 vs exact {recall:.3f}; "
            f"index {_disk_mb(idx.gen):,.0f} MB on disk; peak RSS of open + one question {child.rss_mb:,.0f} MB; {build_note}",
            "recall@10 ≥ 0.95" if kind == "hnsw" else "",
            (recall >= 0.95) if kind == "hnsw" else None,
        ))
        del archive, idx
    ratio = p50["100k"] / p50["1k"]
    rows.append(Row("scale", f"ratio query p50 ~100k / ~1k (exact search up to {EXACT_SEARCH_LIMIT:,} vectors, HNSW above)",
                    f"{ratio:.2f}", "≤ 3.0", ratio <= 3.0))
    return rows


# -- memory ------------------------------------------------------------------------------------

CHILD_TUI = r"""
import asyncio, sys
from qa.tui.app import QaApp

app = QaApp(None, None)
answered = []

async def pilot(p):
    while app.busy:
        await app.workers.wait_for_complete()
        await p.pause()
    app.query_one("#question").focus()
    await p.press(*sys.argv[1])
    await p.press("enter")
    await p.pause()
    while app.busy:
        await app.workers.wait_for_complete()
        await p.pause()
    answered.append(len(app.conversation.turns))
    app.exit()

app.run(headless=True, size=(120, 40), auto_pilot=pilot)
print("answered", answered[0] if answered else 0)
"""


def bench_rss(args) -> list[Row]:
    """Peak resident memory of `qa ask` and of the TUI after one answer (medians of runs)."""
    seeds_ready()
    rows = []
    for name, env in (("", {}), (" with sentence-transformers (`QA_ENCODER=torch`)", {"QA_ENCODER": "torch"})):
        rss = [checked(run_child(qa_cmd("ask", JULY), env), "qa ask").rss_mb for _ in range(args.runs)]
        ok = statistics.median(rss) <= 900
        rows.append(Row("memory", f"peak RSS of `qa ask` (seeds){name}", f"{statistics.median(rss):,.0f} MB",
                        "≤ 900 MB" if not env else "", ok if not env else None))
    runs = [checked(run_child([sys.executable, "-c", CHILD_TUI, JULY]), "TUI") for _ in range(args.runs)]
    if not all("answered 1" in r.stdout for r in runs):
        raise RuntimeError(f"the TUI did not answer: {runs[-1].stdout[-300:]} {runs[-1].stderr[-500:]}")
    rows.append(Row("memory", "peak RSS of the TUI (`qa`) after one answer (seeds)", f"{statistics.median(r.rss_mb for r in runs):,.0f} MB"))
    return rows


BENCHMARKS = {
    "cold": bench_cold,
    "warm": bench_warm,
    "index": bench_index,
    "batch": bench_batch_rows,
    "scale": bench_scale,
    "rss": bench_rss,
}


# -- report ------------------------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    lines = ["| benchmark | measurement | result | target | met |", "|---|---|---|---|---|"]
    for r in rows:
        met = "" if r.ok is None else ("yes" if r.ok else "**no**")
        lines.append(f"| {r.benchmark} | {r.what} | {r.result} | {r.target} | {met} |")
    return "\n".join(lines)


def machine() -> list[str]:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")).split()[1])
        mem = f"{mem_kb / 1024 ** 2:.0f} GB RAM"
    except (OSError, StopIteration, ValueError):
        mem = "RAM unknown"
    versions = []
    for pkg in ("onnxruntime", "torch", "sentence-transformers", "faiss-cpu", "numpy"):
        try:
            from importlib.metadata import version

            versions.append(f"{pkg} {version(pkg)}")
        except Exception:  # noqa: BLE001
            pass
    return [
        f"- CPU: {cpu}, {os.cpu_count()} cores; {mem}; {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}; {', '.join(versions)}",
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benchmarks", nargs="*", metavar="BENCHMARK", help=f"{' | '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--n", type=int, default=1000, help="questions for the batch benchmark (default 1000)")
    parser.add_argument("--questions", type=int, default=250, help="questions for latency percentiles (default 250)")
    parser.add_argument("--runs", type=int, default=5, help="repeats of each cold-start command (default 5)")
    parser.add_argument("--squad", type=Path, default=SQUAD, help="SQuAD v1.1 dev JSON")
    parser.add_argument("--corpus", default=str(SEEDS), help="corpus of the batch benchmark (default: the seeds)")
    parser.add_argument("--index", default=str(ROOT / "index"))
    parser.add_argument("--output", type=Path, help=f"write the report here (default when running everything: {DOC.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    unknown = [b for b in args.benchmarks if b not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)} (choose from {', '.join(BENCHMARKS)})")
    t0 = time.time()
    load_before = os.getloadavg()
    rows: list[Row] = []
    for name in args.benchmarks or BENCHMARKS:
        log(f"== {name}")
        t = time.time()
        try:
            rows += BENCHMARKS[name](args)
        except Skipped as exc:
            print(f"{name}: skipped: {exc}", file=sys.stderr)
        log(f"   {name}: {time.time() - t:.0f} s")
    load_after = os.getloadavg()
    command = "python scripts/bench.py" + (" " + " ".join(sys.argv[1:]) if len(sys.argv) > 1 else "")
    report = "\n".join(
        [
            "# Benchmarks",
            "",
            f"`{command}` (`make bench`), {time.strftime('%Y-%m-%d %H:%M')}, {time.time() - t0:.0f} s in all.",
            "",
            *machine(),
            f"- Load average (1 min) {load_before[0]:.1f} at the start, {load_after[0]:.1f} at the end: the machine "
            "was shared with other work, so wall times are medians of repeated runs and CPU seconds are shown too.",
            "",
            table(rows),
            "",
            "Notes:",
            "- Cold start: each command is a fresh process after one untimed run that warms the OS file cache; "
            "the four commands are interleaved so load bursts hit them alike.",
            "- Warm latency: SQuAD v1.1 dev questions spread over all 48 articles, asked of those articles "
            "indexed as 48 documents; 20 untimed questions first.",
            "- Index builds: the model (its float32 graph, as for questions) embeds sentences only (passage vectors "
            "are pooled from them). The in-process builds follow one untimed build "
            "(first imports of bm25s, scipy and faiss); the `qa index` rows are whole fresh processes.",
            f"- Scale: ~1k is the first SQuAD articles, ~10k all 48; ~100k adds {SYNTHETIC_COPIES} **synthetic** copies "
            "of every article (title marked `[synthetic copy N]`, same text; a repeated sentence gets a synthetic "
            f"vector, its own plus {SYNTHETIC_MIX} × another sentence's, renormalised). SQuAD v2.0 dev adds no text "
            "(its 1,204 contexts are all in v1.1 dev), hence the synthetic copies. Scale corpora reuse the vectors of "
            "the SQuAD index instead of running the model again.",
        ]
    )
    print(report)
    output = args.output or (DOC if not args.benchmarks else None)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(report + "\n", "utf-8")
        log(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
