"""SQuAD articles as an archive: each article becomes one document, questions keep gold offsets.

Used by scripts/train_reranker.py (even-indexed articles only) and scripts/eval.py (odd-indexed
articles for reporting). The data stays in ../shared; the corpus files and index are written to
a cache folder (.cache/ by default, ignored by git).
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("QA_SHARED", ROOT.parent / "shared"))
SQUAD_V1 = SHARED / "bench" / "squad" / "dev-v1.1.json"
SQUAD_V2 = SHARED / "bench" / "squad" / "dev-v2.0.rebuilt.json"
CACHE = Path(os.environ.get("QA_CACHE", ROOT / ".cache"))


@dataclass
class SquadQuestion:
    id: str
    article: int  # index of the article in the file
    doc: str  # document file name in the generated corpus
    question: str
    answerable: bool
    spans: list[tuple[int, int]]  # gold answer offsets in the document text


def write_corpus(src: Path, dest: Path) -> list[SquadQuestion]:
    """One .txt per article ("# Title", blank line, paragraphs separated by blank lines)."""
    data = json.loads(src.read_text("utf-8"))["data"]
    dest.mkdir(parents=True, exist_ok=True)
    questions: list[SquadQuestion] = []
    for a, article in enumerate(data):
        name = f"{a:03d}_{article['title'][:60]}.txt".replace("/", "_")
        head = f"# {article['title'].replace('_', ' ')}\n\n"
        parts, offset = [head], len(head)
        for p in article["paragraphs"]:
            ctx = p["context"].strip()
            shift = p["context"].index(ctx[:20]) if ctx else 0
            for qa in p["qas"]:
                impossible = bool(qa.get("is_impossible")) or not qa.get("answers")
                spans = []
                if not impossible:
                    for ans in qa["answers"]:
                        s = ans["answer_start"] - shift
                        # answer_start is approximate in the rebuilt 2.0 file: find the nearest occurrence
                        found = ctx.find(ans["text"], max(0, s - 50))
                        if found < 0:
                            found = ctx.find(ans["text"])
                        if found >= 0:
                            spans.append((offset + found, offset + found + len(ans["text"])))
                questions.append(SquadQuestion(qa["id"], a, name, qa["question"], not impossible, spans))
            parts.append(ctx + "\n\n")
            offset += len(ctx) + 2
        text = "".join(parts)
        path = dest / name
        if not path.exists() or path.read_text("utf-8") != text:
            path.write_text(text, "utf-8")
    return questions


def squad_archive(version: str = "v1", shared: Path | None = None):
    """(Archive over the SQuAD articles, questions). The index is built once and cached."""
    from qa.engine import Archive

    bench = (Path(shared) if shared else SHARED) / "bench" / "squad"
    src = bench / (SQUAD_V1.name if version == "v1" else SQUAD_V2.name)
    corpus = CACHE / f"squad-{version}" / "corpus"
    questions = write_corpus(src, corpus)
    from archives import shared_encoder

    key = (version, src)
    if key not in _OPENED:
        _OPENED[key] = Archive.open(
            corpus, CACHE / f"squad-{version}" / "index", log=lambda m: print(m, file=sys.stderr), encoder=shared_encoder()
        )
    return _OPENED[key], questions


_OPENED: dict = {}


def hit(extract_start: int, extract_end: int, spans: list[tuple[int, int]]) -> bool:
    """The returned extract contains a gold answer span."""
    return any(extract_start <= s and e <= extract_end for s, e in spans)
