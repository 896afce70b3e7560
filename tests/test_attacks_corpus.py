"""Hostile corpora (issue 12): what the corpus scan reads, and what it refuses.

Links out of the corpus, FIFOs, devices, broken and looping links, binary files, oversized files,
sidecars and alias files that are not what they claim, and old Mac line endings. The user-visible
cases run the real `qa` command on real files in temporary folders.
"""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from qa import index as index_mod
from qa.documents import apply_sidecar, decode, load_document, scan_corpus
from qa.passages import split_document
from qa.segment import line_of, line_starts, split_sentences
from qa.speakers import load_aliases
from qa.types import DocumentMeta

from .conftest import ROOT

MEMO = (
    "# Memo on grain deliveries\n\nThe ministry shipped four thousand tonnes of grain to Havana in August. "
    "Deliveries of fertiliser were postponed until spring.\n"
)
SECRET = "zanzibarquokka"  # a word that exists only outside the corpus


def run_qa(*args, env=None, timeout=300):
    full = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "qa", *args], capture_output=True, text=True, env=full, timeout=timeout
    )


def stored_documents(index: Path) -> dict[str, str]:
    """doc name -> stored text, read straight from the published store.sqlite."""
    gen = index / (index / "CURRENT").read_text("utf-8").strip()
    con = sqlite3.connect(gen / "store.sqlite")
    try:
        return dict(con.execute("SELECT doc, text FROM documents"))
    finally:
        con.close()


def warning_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


# ---------------------------------------------------------------------------------------------
# One hostile corpus, indexed once by a real `qa index`


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(f"The {SECRET} password is kept here.\n", "utf-8")
    corpus = base / "C"
    corpus.mkdir()
    (corpus / "memo.md").write_text(MEMO, "utf-8")
    os.symlink(outside / "secret.txt", corpus / "secret.txt")  # a file out of the corpus
    os.symlink(outside, corpus / "elsewhere")  # a folder out of the corpus
    (corpus / "sub").mkdir()
    os.symlink(corpus, corpus / "sub" / "loop")  # a folder link back up: would loop
    os.symlink(corpus / "memo.md", corpus / "again.txt")  # a second name for memo.md
    if Path("/etc/passwd").is_file():
        os.symlink("/etc/passwd", corpus / "passwd.txt")
    os.symlink(corpus / "missing.txt", corpus / "broken.txt")
    os.symlink("self.txt", corpus / "self.txt")
    # NUL bytes after the first 8 KB: still a binary file
    (corpus / "late-nul.txt").write_bytes(b"Plain words here. " * 600 + b"\x00 tail\n")
    big = ("The harvest report lists every district. " * 30 + "\n") * 120  # ~150 KB
    (corpus / "big.txt").write_text(big, "utf-8")
    index = base / "idx"
    proc = run_qa("index", "--corpus", str(corpus), "--index", str(index), env={"QA_MAX_FILE_MB": "0.1"}, timeout=600)
    return corpus, index, proc


def test_qa_index_finishes_on_a_hostile_corpus(hostile):
    _, index, proc = hostile
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert set(stored_documents(index)) == {"memo.md"}


def test_links_out_of_the_corpus_are_never_read(hostile):
    corpus, index, proc = hostile
    texts = stored_documents(index)
    assert not any(SECRET in t or "root:" in t for t in texts.values())
    warnings = warning_lines(proc.stderr)
    for name in ["secret.txt"] + (["passwd.txt"] if (corpus / "passwd.txt").is_symlink() else []):
        assert any(name in w and "outside the corpus" in w for w in warnings), (name, warnings)
    assert any("elsewhere" in w and "not followed" in w for w in warnings)
    assert any("sub/loop" in w and "not followed" in w for w in warnings)
    ask = run_qa("ask", f"Where is the {SECRET} password kept?", "--json", "--corpus", str(corpus), "--index", str(index))
    assert ask.returncode in (0, 1), ask.stderr
    out = json.loads(ask.stdout)
    assert not any(SECRET in a["quote"] for a in out["answers"] + out.get("closest", []))


def test_qa_index_reports_what_it_skipped(hostile):
    _, _, proc = hostile
    n = len([w for w in warning_lines(proc.stderr) if "skipped" in w])
    assert n >= 8  # secret, elsewhere, sub/loop, again, broken, self, late-nul, big (and passwd)
    assert f"{n} skipped" in proc.stdout


def test_a_second_name_for_a_document_is_indexed_once(hostile):
    _, index, proc = hostile
    assert "again.txt" not in stored_documents(index)
    assert any("again.txt" in w and "same file as memo.md" in w for w in warning_lines(proc.stderr))


def test_fifos_and_devices_are_skipped_without_hanging(tmp_path):
    corpus = tmp_path / "C"
    corpus.mkdir()
    (corpus / "memo.md").write_text(MEMO, "utf-8")
    os.mkfifo(corpus / "pipe.txt")  # open() would wait for a writer forever
    os.symlink("/dev/zero", corpus / "zero.txt")  # read_bytes() would never end
    os.symlink("/dev/urandom", corpus / "urandom.md")
    (corpus / "inner").mkdir()
    os.symlink(corpus / "pipe.txt", corpus / "inner" / "pipe-link.md")  # inside the corpus, still a FIFO
    proc = run_qa("index", "--corpus", str(corpus), "--index", str(tmp_path / "idx"), timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert set(stored_documents(tmp_path / "idx")) == {"memo.md"}
    warnings = warning_lines(proc.stderr)
    assert any("inner/pipe-link.md" in w and "FIFO" in w for w in warnings)
    assert any("pipe.txt" in w and "FIFO" in w for w in warnings)
    assert any("zero.txt" in w and "outside the corpus" in w for w in warnings)
    assert any("urandom.md" in w and "outside the corpus" in w for w in warnings)


def test_oversized_files_are_skipped_naming_the_limit(hostile):
    _, _, proc = hostile
    assert any("big.txt" in w and "too large" in w and "104857 bytes" in w and "QA_MAX_FILE_MB" in w for w in warning_lines(proc.stderr))


def test_nul_bytes_anywhere_make_a_file_binary(hostile):
    _, index, proc = hostile
    assert any("late-nul.txt" in w and "binary" in w for w in warning_lines(proc.stderr))
    assert not any("\x00" in t for t in stored_documents(index).values())
    with pytest.raises(ValueError, match="binary"):
        decode(b"x" * 100_000 + b"\x00")


def test_broken_and_looping_links_do_not_keep_the_index_stale(hostile):
    corpus, index, proc = hostile
    warnings = warning_lines(proc.stderr)
    assert any("broken.txt" in w and "broken link" in w for w in warnings)
    assert any("self.txt" in w and "link loop" in w for w in warnings)
    check = run_qa("index", "--check", "--corpus", str(corpus), "--index", str(index), env={"QA_MAX_FILE_MB": "0.1"})
    assert check.returncode == 0, check.stdout + check.stderr
    assert "up to date" in check.stdout


def test_scan_reads_links_inside_the_corpus(tmp_path):
    """A link to a file elsewhere inside the corpus (here a hidden folder the scan does not walk) is a document."""
    (tmp_path / ".drafts").mkdir()
    (tmp_path / ".drafts" / "note.txt").write_text("A draft note about the harvest.\n", "utf-8")
    os.symlink(tmp_path / ".drafts" / "note.txt", tmp_path / "note.txt")
    files, skipped = scan_corpus(tmp_path)
    assert [f.name for f in files] == ["note.txt"] and not skipped
    assert load_document(tmp_path, files[0]).text.startswith("A draft note")


def test_a_file_swapped_for_a_link_out_is_not_read(tmp_path):
    """load_document checks again when it reads, not only when the folder was scanned."""
    (tmp_path / "C").mkdir()
    (tmp_path / "secret.txt").write_text(SECRET, "utf-8")
    os.symlink(tmp_path / "secret.txt", tmp_path / "C" / "a.txt")
    with pytest.raises(ValueError, match="outside the corpus"):
        load_document(tmp_path / "C", tmp_path / "C" / "a.txt")


# ---------------------------------------------------------------------------------------------
# Sidecars and alias files are untrusted input


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture(scope="module")
def sidecars(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("sidecars") / "C"
    corpus.mkdir()
    (corpus / "memo.md").write_text(MEMO, "utf-8")
    for name, sidecar in {
        "deep": DEEP,
        "author": json.dumps({"title": "Cable on tractors", "author": ["a", "b"]}),
        "aliases": json.dumps({"aliases": {"x": {"y": "z"}, "the minister": "Gromyko"}}),
        "word": json.dumps({"body_start": "abc", "title": "Cable on sugar"}),
        "huge": '{"body_start": 1000000000000}',
    }.items():
        (corpus / f"{name}.txt").write_text(f"Report {name}.\n\nThe {name} cable describes the {name} harvest in Oriente.\n", "utf-8")
        (corpus / f"{name}.meta.json").write_text(sidecar, "utf-8")
    (corpus / "aliases.json").write_text(DEEP, "utf-8")
    (corpus / ".qa").mkdir()
    (corpus / ".qa" / "aliases.json").write_text(json.dumps({"the premier": "Castro", "bad": ["Castro"]}), "utf-8")
    # old Mac line endings
    (corpus / "mac.txt").write_bytes(
        b"Report from Santiago.\r\rThe port of Santiago reopened on Monday.\rThe cranes were repaired by night.\r"
    )
    index = corpus.parent / "idx"
    proc = run_qa("index", "--corpus", str(corpus), "--index", str(index), timeout=600)
    return corpus, index, proc


def test_bad_sidecars_and_alias_files_never_stop_indexing(sidecars):
    _, index, proc = sidecars
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert set(stored_documents(index)) == {"memo.md", "deep.txt", "author.txt", "aliases.txt", "word.txt", "huge.txt", "mac.txt"}


def test_sidecar_warnings_name_the_file_and_the_field(sidecars):
    _, _, proc = sidecars
    warnings = warning_lines(proc.stderr)

    def has(*parts):
        return any(all(p in w for p in parts) for w in warnings)

    assert has("deep.meta.json", "nested too deeply")
    assert has("author.meta.json", "'author'")
    assert has("aliases.meta.json", "'aliases'", "'x'")
    assert has("word.meta.json", "'body_start'")
    assert has("huge.meta.json", "'body_start'")
    assert has("aliases.json", "nested too deeply")
    assert has(".qa/aliases.json", "'bad'")


def test_valid_sidecar_fields_still_apply_and_bad_ones_are_ignored(sidecars):
    corpus, index, _ = sidecars
    loaded = index_mod.load(index)
    meta = {d.doc: d.meta for d in loaded.docs}
    assert meta["author.txt"].title == "Cable on tractors" and meta["author.txt"].author is None
    assert meta["word.txt"].title == "Cable on sugar" and meta["word.txt"].body_start == 0
    assert meta["aliases.txt"].aliases == {"the minister": "Gromyko"}
    # a huge body_start does not empty the document
    huge = loaded.doc_index["huge.txt"]
    assert loaded.docs[huge].sent_hi > loaded.docs[huge].sent_lo
    assert meta["huge.txt"].body_start == 0


def test_qa_ask_works_with_bad_sidecar_aliases_and_a_deep_alias_file(sidecars):
    corpus, index, _ = sidecars
    proc = run_qa("ask", "What does the aliases cable describe?", "--json", "--corpus", str(corpus), "--index", str(index))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert json.loads(proc.stdout)["answers"]


def test_lone_cr_files_report_real_line_numbers(sidecars):
    corpus, index, _ = sidecars
    proc = run_qa("ask", "When did the port of Santiago reopen?", "--json", "--doc", "mac.txt",
                  "--corpus", str(corpus), "--index", str(index))
    assert proc.returncode == 0, proc.stderr
    text = (corpus / "mac.txt").read_bytes().decode("utf-8")
    answers = json.loads(proc.stdout)["answers"]
    assert answers
    for a in answers:
        assert text[a["start"]:a["end"]] == a["quote"]
        assert a["line"] == text.count("\r", 0, a["start"]) + 1
    assert any(a["line"] > 1 for a in answers)


@pytest.mark.parametrize(
    "sidecar, field",
    [
        ({"author": ["a", "b"]}, "author"),
        ({"title": ""}, "title"),
        ({"title": None}, "title"),
        ({"date": 1962}, "date"),
        ({"body_start": "abc"}, "body_start"),
        ({"body_start": True}, "body_start"),
        ({"body_start": -1}, "body_start"),
        ({"body_start": 10**12}, "body_start"),
        ({"body_start": 1.5}, "body_start"),
        ({"metadata_spans": [[0, 10**9]]}, "metadata_spans"),
        ({"boilerplate_spans": "all"}, "boilerplate_spans"),
        ({"aliases": ["x"]}, "aliases"),
        ({"nonsense": 1}, "nonsense"),
    ],
)
def test_each_bad_sidecar_field_is_named_and_ignored(sidecar, field):
    meta = DocumentMeta(title="kept", author="Rusk")
    before = meta.to_dict()
    problems = apply_sidecar(meta, {**sidecar, "recipient": "Gromyko"}, text_len=100)
    assert len(problems) == 1 and repr(field) in problems[0]
    assert meta.to_dict() == {**before, "recipient": "Gromyko"}


def test_unreadable_sidecars_are_ignored_and_named(tmp_path):
    (tmp_path / "a.txt").write_text("Some words about grain.\n", "utf-8")
    for bad in ("{", "[1, 2]", "\ufeff\xff"):
        (tmp_path / "a.meta.json").write_text(bad, "utf-8")
        doc = load_document(tmp_path, tmp_path / "a.txt")
        assert doc.meta.title == "a" and len(doc.warnings) == 1 and "a.meta.json" in doc.warnings[0]
    (tmp_path / "a.meta.json").unlink()
    os.mkfifo(tmp_path / "a.meta.json")  # would block a plain open()
    doc = load_document(tmp_path, tmp_path / "a.txt")
    assert "FIFO" in doc.warnings[0]


def test_alias_files_are_untrusted(tmp_path):
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"the president": "Nixon"}), "utf-8")
    (tmp_path / "C").mkdir()
    os.symlink(outside, tmp_path / "C" / "aliases.json")
    warnings = []
    table = load_aliases(tmp_path / "C", warn=warnings.append)
    assert "the president" not in table
    assert warnings and "aliases.json" in warnings[0] and "outside the corpus" in warnings[0]
    (tmp_path / "C" / "aliases.json").unlink()
    (tmp_path / "C" / "aliases.json").write_text(json.dumps({"the president": "Kennedy", "x": {"y": "z"}}), "utf-8")
    warnings.clear()
    assert load_aliases(tmp_path / "C", warn=warnings.append)["the president"] == "Kennedy"
    assert warnings and "'x'" in warnings[0]


# ---------------------------------------------------------------------------------------------
# Staleness: sidecars count, for skipped documents too


def test_fixing_a_bad_sidecar_is_noticed_by_index_check(tmp_path):
    corpus = tmp_path / "C"
    corpus.mkdir()
    (corpus / "memo.md").write_text(MEMO, "utf-8")
    (corpus / "memo.meta.json").write_text('{"title": "Grain memo",', "utf-8")  # broken JSON
    index = tmp_path / "idx"
    first = run_qa("index", "--corpus", str(corpus), "--index", str(index))
    assert first.returncode == 0, first.stderr
    assert any("memo.meta.json" in w for w in warning_lines(first.stderr))
    (corpus / "memo.meta.json").write_text('{"title": "Grain memo"}', "utf-8")
    check = run_qa("index", "--check", "--corpus", str(corpus), "--index", str(index))
    assert check.returncode == 1 and "1 changed" in check.stdout, check.stdout
    assert run_qa("index", "--corpus", str(corpus), "--index", str(index)).returncode == 0
    assert [d.meta.title for d in index_mod.load(index).docs] == ["Grain memo"]


def test_the_sidecar_of_a_skipped_document_counts_for_staleness(tmp_path, encoder):
    corpus = tmp_path / "C"
    corpus.mkdir()
    (corpus / "memo.md").write_text(MEMO, "utf-8")
    (corpus / "empty.txt").write_text("   \n", "utf-8")
    (corpus / "empty.meta.json").write_text('{"title": "Nothing"}', "utf-8")
    report = index_mod.build(corpus, tmp_path / "idx", encoder)
    assert [s.path for s in report.skipped] == ["empty.txt"]
    assert not index_mod.staleness(corpus, index_mod.load(tmp_path / "idx")).stale
    (corpus / "empty.meta.json").write_text('{"title": "Still nothing"}', "utf-8")
    assert index_mod.staleness(corpus, index_mod.load(tmp_path / "idx")).added == ["empty.txt"]


# ---------------------------------------------------------------------------------------------
# Old Mac line endings


def test_lone_cr_counts_as_a_line_break():
    text = "First line.\rSecond line.\r\nThird line.\nFourth."
    starts = line_starts(text)
    assert starts == [0, 12, 26, 38]
    assert [line_of(text.index(w), starts) for w in ("First", "Second", "Third", "Fourth")] == [1, 2, 3, 4]


def test_lone_cr_separates_sentences_with_exact_offsets():
    text = "Report from Santiago\r\rThe port reopened on Monday.\r- cranes repaired\r- roads cleared"
    spans = split_sentences(text)
    quotes = [text[s:e] for s, e in spans]
    assert quotes == ["Report from Santiago", "The port reopened on Monday.", "cranes repaired", "roads cleared"]
    from qa.types import Document

    sentences, _ = split_document(Document("mac.txt", text, "", DocumentMeta(title="mac")))
    assert [s.line for s in sentences] == [1, 3, 4, 5]
