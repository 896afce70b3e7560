"""Print the anatomy read from every document of a corpus, to eyeball it on any archive.

usage: python scripts/anatomy_report.py CORPUS [--lines] [--json]

One block per document: kind, author -> recipient, ISO date and place, subject, participants,
salutation / closing / signature, relayed texts and the number of structure lines. --lines also
prints every structure line (the furniture that is never a content answer) and where the
editorial matter (Notes) begins; --json prints one JSON object per document instead.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.documents import corpus_files, load_document  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--lines", action="store_true", help="print every structure line too")
    ap.add_argument("--json", action="store_true", help="one JSON object per document")
    args = ap.parse_args(argv)
    root = args.corpus
    for path in corpus_files(root):
        rel = path.relative_to(root).as_posix()
        try:
            doc = load_document(root, path)
        except (ValueError, OSError) as exc:
            print(f"{rel}: skipped ({exc})")
            continue
        m = doc.meta
        if args.json:
            d = m.to_dict()
            d["doc"] = rel
            print(json.dumps(d, ensure_ascii=False))
            continue
        print(f"== {rel}")
        print(f"   title: {m.title}")
        print(f"   kind: {m.kind} | author: {m.author} -> recipient: {m.recipient} | date: {m.date} "
              f"({m.date_text}) | place: {m.place} | time: {m.time}")
        if m.subject:
            print(f"   subject: {m.subject}")
        if m.participants:
            people = "; ".join(
                f"{p.get('name') or '?'}" + (f" [{p['role']}]" if p.get("role") else "") + (f" <{p['side']}>" if p.get("side") else "")
                for p in m.participants
            )
            print(f"   participants ({len(m.participants)}): {people}")
        extra = [f"{k}: {getattr(m, k)!r}" for k in ("salutation", "closing", "signature") if getattr(m, k)]
        if extra:
            print("   " + " | ".join(extra))
        for e in m.embedded:
            print(f"   embedded {e.get('kind')} [{e['start']}:{e['end']}] by {e.get('author')} to {e.get('recipient')}"
                  f" date {e.get('date')} salutation {e.get('salutation')!r} signature {e.get('signature')!r}")
        notes = next((s for s, e in m.metadata_spans if s >= m.body_start), None)
        print(f"   structure lines: {len(m.structure_spans)} | notes at: {notes}")
        if args.lines:
            for s, e in m.structure_spans:
                print(f"     | {doc.text[s:e][:110]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
