"""The development archives as data, and scoring the pipeline on them the way a user runs it.

An archive is a corpus with its gold sets: `qa` (questions with gold spans and, in the shared
archives, a `kind`: who / fact / hard / none), `conversations` (multi-turn) and `quiz` (graded
answers). They are found generically:

  * "seeds": the repository's seeds/ with ../shared/eval/dev_qa.jsonl, dev_conversations.jsonl
    and dev_quiz.csv;
  * every folder of ../shared/archives/ that has a corpus/ (its qa.jsonl, conversations.jsonl,
    quiz.csv) -- a new archive dropped there is picked up by training and evaluation.

The shared folder is $QA_SHARED, else ../shared beside the repository (scripts take --shared).
Indexes of shared archives are written under the script cache (.cache/archives/NAME/index),
never into ../shared.

Scoring goes through the product's own entry points -- `qa.batch.run_batch` (what `qa batch`
runs) and `qa.grade.grade_file` (what `qa grade` runs) -- and the shared scorers
score_qa.py / score_quiz.py, so the numbers are the ones a user would get.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CACHE = Path(os.environ.get("QA_CACHE", ROOT / ".cache"))


def default_shared() -> Path:
    return Path(os.environ.get("QA_SHARED", ROOT.parent / "shared"))


@dataclass(frozen=True)
class DevArchive:
    name: str
    corpus: Path
    qa: Path
    conversations: Optional[Path]
    quiz: Optional[Path]
    index: Optional[Path]  # None: the corpus's default index (the repository's index/ for seeds)
    shared: Path  # where score_qa.py / score_quiz.py live (shared/eval)

    def matches(self, key: str) -> bool:
        """'frus-1961-63-v05' is selected by its name or by its last part ('v05')."""
        return key == self.name or self.name.endswith("-" + key)

    @property
    def short(self) -> str:
        return self.name.rsplit("-", 1)[-1]

    def questions(self) -> list[dict]:
        return read_jsonl(self.qa)

    def first_turns(self) -> list[dict]:
        """Turn 1 of each conversation: a question that stands alone (later turns need the dialogue)."""
        if not self.conversations:
            return []
        return [r for r in read_jsonl(self.conversations) if int(r.get("turn", 1)) == 1]

    def open(self, log=None):
        """The archive, opened once per process (its index built or refreshed on first use)."""
        from qa.engine import Archive

        if self not in _OPENED:
            log = log or (lambda m: print(m, file=sys.stderr))
            _OPENED[self] = Archive.open(self.corpus, self.index, log=log, encoder=shared_encoder())
        return _OPENED[self]


_OPENED: dict[DevArchive, object] = {}
_ENCODER: list = []


def shared_encoder():
    """One encoder for every archive a script opens (each would otherwise load the model)."""
    if not _ENCODER:
        from qa.embed import Encoder

        _ENCODER.append(Encoder())
    return _ENCODER[0]


def _existing(path: Path) -> Optional[Path]:
    return path if path.is_file() else None


def list_archives(shared: Optional[Path] = None) -> list[DevArchive]:
    """seeds first, then ../shared/archives/* in name order. Empty when ../shared is absent."""
    shared = Path(shared) if shared else default_shared()
    ev = shared / "eval"
    out: list[DevArchive] = []
    if (ev / "dev_qa.jsonl").is_file() and (ROOT / "seeds").is_dir():
        out.append(
            DevArchive(
                "seeds", ROOT / "seeds", ev / "dev_qa.jsonl", _existing(ev / "dev_conversations.jsonl"),
                _existing(ev / "dev_quiz.csv"), None, ev,
            )
        )
    for d in sorted((shared / "archives").glob("*/")):
        if (d / "corpus").is_dir() and (d / "qa.jsonl").is_file():
            out.append(
                DevArchive(
                    d.name, d / "corpus", d / "qa.jsonl", _existing(d / "conversations.jsonl"),
                    _existing(d / "quiz.csv"), CACHE / "archives" / d.name / "index", ev,
                )
            )
    return out


def select(archives: list[DevArchive], keys: Optional[list[str]]) -> list[DevArchive]:
    """The archives named by `keys` (full or short names), in list order; all when keys is empty."""
    if not keys:
        return list(archives)
    unknown = [k for k in keys if not any(a.matches(k) for a in archives)]
    if unknown:
        names = ", ".join(a.name for a in archives) or "none found"
        raise SystemExit(f"unknown archive(s) {', '.join(unknown)}; available: {names}")
    return [a for a in archives if any(a.matches(k) for k in keys)]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text("utf-8").splitlines() if line.strip()]


# -- answering and scoring as a user would ------------------------------------------------------------
def batch_answers(archive, gold: Path, out: Path) -> None:
    """`qa batch GOLD --format jsonl -o OUT` in-process, with whatever reranker `archive` holds."""
    from qa.batch import run_batch
    from qa.batch_input import read_questions
    from qa.batch_output import open_output

    questions = read_questions(str(gold))
    writer, existing = open_output(str(out), "jsonl", questions.columns, Path(questions.name).name, False, sys.stdout)
    try:
        run_batch(archive, questions.rows, writer, done=existing.done)
    finally:
        writer.close()


def grade_quiz(archive, quiz: Path, out: Path) -> None:
    """`qa grade QUIZ --format csv -o OUT` in-process."""
    from qa.grade import grade_file

    with open(out, "w", encoding="utf-8", newline="") as f:
        grade_file(archive, quiz, f, "csv")


def score_qa(arch: DevArchive, gold: Path, answers: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, str(arch.shared / "score_qa.py"), str(gold), str(answers), str(arch.corpus), "--json"],
        capture_output=True, text=True, check=True,
    )
    return json.loads(proc.stdout)


def score_quiz(arch: DevArchive, graded: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, str(arch.shared / "score_quiz.py"), str(arch.quiz), str(graded), "--json"],
        capture_output=True, text=True, check=True,
    )
    return json.loads(proc.stdout)


def score_by_kind(arch: DevArchive, answers: Path, work: Path) -> dict[str, dict]:
    """score_qa.py on each `kind` of the gold set separately (empty when the set has no kinds)."""
    rows = arch.questions()
    kinds = sorted({r["kind"] for r in rows if r.get("kind")})
    out = {}
    for kind in kinds:
        part = work / f"gold-{kind}.jsonl"
        part.write_text("".join(json.dumps(r) + "\n" for r in rows if r.get("kind") == kind), "utf-8")
        out[kind] = score_qa(arch, part, answers)
    return out


def measure_pipeline(archive, arch: DevArchive, quiz: bool = True) -> dict:
    """Everything the eval reports for the full pipeline on one archive: qa.jsonl scores (with the
    per-kind hit@1), conversations' follow-up hit@1 and quiz accuracy."""
    with tempfile.TemporaryDirectory(prefix="qa-eval-") as tmp:
        work = Path(tmp)
        batch_answers(archive, arch.qa, work / "qa.jsonl")
        m = {"qa": score_qa(arch, arch.qa, work / "qa.jsonl")}
        m["kinds"] = {k: v["hit@1"] for k, v in score_by_kind(arch, work / "qa.jsonl", work).items() if k != "none"}
        if arch.conversations:
            batch_answers(archive, arch.conversations, work / "conv.jsonl")
            m["conversations"] = score_qa(arch, arch.conversations, work / "conv.jsonl")
        if quiz and arch.quiz:
            grade_quiz(archive, arch.quiz, work / "quiz.csv")
            m["quiz"] = score_quiz(arch, work / "quiz.csv")
    return m
