"""The persisted index: incremental refresh, kill-safety, corruption recovery, locking."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa import index as index_mod
from qa.engine import Archive

from .conftest import ROOT


def _build(corpus, root, encoder, **kw):
    return index_mod.build(corpus, root, encoder, **kw)


def _as_generation_without_checksums(gen):
    """Make `gen` look like a generation written before file checksums were recorded."""
    import json

    manifest = json.loads((gen / "manifest.json").read_text("utf-8"))
    del manifest["files"]
    (gen / "manifest.json").write_text(json.dumps(manifest), "utf-8")


def test_incremental_reindex_embeds_only_the_changed_file(small_corpus, tmp_path, encoder):
    root = tmp_path / "idx"
    first = _build(small_corpus, root, encoder)
    assert sorted(first.embedded_documents) == sorted(
        ["000_96c424edd7d3daf7.txt", "004_e7fbc198e1c2cf16.txt", "notes/memo.md"]
    )
    # Nothing changed: nothing is stale.
    assert not index_mod.staleness(small_corpus, index_mod.load(root)).stale

    memo = small_corpus / "notes" / "memo.md"
    memo.write_text(memo.read_text("utf-8") + "A second ship, the Almaz, sailed in September.\n", "utf-8")
    (small_corpus / "new.txt").write_text("A brand new cable about Berlin.", "utf-8")
    (small_corpus / "000_96c424edd7d3daf7.txt").unlink()
    st = index_mod.staleness(small_corpus, index_mod.load(root))
    assert (st.changed, st.added, st.removed) == (["notes/memo.md"], ["new.txt"], ["000_96c424edd7d3daf7.txt"])

    second = _build(small_corpus, root, encoder)
    assert sorted(second.embedded_documents) == ["new.txt", "notes/memo.md"]
    assert second.reused_documents == 1
    loaded = index_mod.load(root)
    assert sorted(d.doc for d in loaded.docs) == ["004_e7fbc198e1c2cf16.txt", "new.txt", "notes/memo.md"]
    # Reused vectors are the same vectors: a telegram sentence is still its own nearest neighbour.
    i = next(i for i in range(loaded.n_sentences) if loaded.sentence_text(i).startswith("The situation has rapidly"))
    _, ids = loaded.sent_faiss.search(loaded.sent_vecs[i : i + 1].copy(), 1)
    assert ids[0][0] == i


def test_touching_a_file_does_not_re_embed_it(small_corpus, tmp_path, encoder):
    root = tmp_path / "idx"
    _build(small_corpus, root, encoder)
    memo = small_corpus / "notes" / "memo.md"
    os.utime(memo, None)
    os.utime(memo, ns=(time.time_ns(), time.time_ns() + 10_000_000))
    report = _build(small_corpus, root, encoder)
    assert report.embedded_documents == []


def test_changed_pipeline_version_forces_full_rebuild(small_corpus, tmp_path, encoder, monkeypatch):
    root = tmp_path / "idx"
    _build(small_corpus, root, encoder)
    monkeypatch.setattr(index_mod, "CHUNKER_VERSION", "999")
    messages = []
    report = _build(small_corpus, root, encoder, log=messages.append)
    assert len(report.embedded_documents) == 3
    assert any("chunker" in m and "rebuilding everything" in m for m in messages)


def test_crash_before_publishing_leaves_previous_index(small_corpus, tmp_path, encoder, monkeypatch):
    root = tmp_path / "idx"
    _build(small_corpus, root, encoder)
    before = index_mod.current_generation(root)
    (small_corpus / "extra.txt").write_text("Another cable entirely.", "utf-8")

    def crash(*a, **k):
        raise KeyboardInterrupt("simulated kill")

    monkeypatch.setattr(index_mod, "_publish", crash)
    with pytest.raises(KeyboardInterrupt):
        _build(small_corpus, root, encoder)
    monkeypatch.undo()
    assert index_mod.current_generation(root) == before
    assert len(index_mod.load(root).docs) == 3
    # The next build finishes the job and sweeps the abandoned generation.
    _build(small_corpus, root, encoder)
    assert len(index_mod.load(root).docs) == 4
    assert len([p for p in root.iterdir() if p.name.startswith(("gen-", ".tmp-"))]) <= 2


def test_kill_9_during_indexing_leaves_a_usable_index(small_corpus, tmp_path, encoder):
    """A real `kill -9` of `qa index` at several moments: the index must always load and answer."""
    root = tmp_path / "idx"
    _build(small_corpus, root, encoder)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for delay in (0.5, 2.0, 4.0):
        (small_corpus / f"more-{delay}.txt").write_text(f"Cable number {delay} about the blockade. " * 40, "utf-8")
        proc = subprocess.Popen(
            [sys.executable, "-m", "qa", "index", "--rebuild", "--corpus", str(small_corpus), "--index", str(root)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        loaded = index_mod.load(root)
        loaded.warm()
        assert loaded.n_sentences > 0
    archive = Archive.open(small_corpus, root, encoder=encoder, log=lambda m: None)
    answer = archive.ask("grain shipped to Havana")
    assert answer.answers and "grain" in answer.answers[0].quote


@pytest.mark.parametrize("damage", ["manifest", "faiss", "current", "sqlite"])
def test_corrupt_index_is_reported_and_rebuilt(small_corpus, tmp_path, encoder, damage):
    root = tmp_path / "idx"
    _build(small_corpus, root, encoder)
    gen = index_mod.current_generation(root)
    if damage == "manifest":
        (gen / "manifest.json").write_text("{not json", "utf-8")
    elif damage == "faiss":
        (gen / "sentences.faiss").write_bytes(b"garbage")
    elif damage == "current":
        (root / "CURRENT").write_text("gen-that-does-not-exist\n")
    else:
        (gen / "store.sqlite").write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    messages = []
    archive = Archive.open(small_corpus, root, encoder=encoder, log=messages.append)
    assert any("corrupt" in m for m in messages), messages
    assert archive.state.state == "rebuilt"
    assert archive.ask("What did Rusk say about July?").answers


def test_concurrent_builds_take_turns(small_corpus, tmp_path):
    root = tmp_path / "idx"
    root.mkdir()
    with index_mod.write_lock(root):
        with pytest.raises(index_mod.IndexLocked):
            with index_mod.write_lock(root, wait=0.3):
                pass


def test_bad_files_are_skipped_with_a_warning(small_corpus, tmp_path, encoder):
    (small_corpus / "scan.txt").write_bytes(b"\x00\x01\x02binary\xff")
    (small_corpus / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    messages = []
    report = _build(small_corpus, tmp_path / "idx", encoder, log=messages.append)
    assert {s.path for s in report.skipped} == {"scan.txt", "latin1.txt"}
    assert any("scan.txt" in m and "binary" in m for m in messages)
    assert any("latin1.txt" in m and "UTF-8" in m for m in messages)
    assert report.documents == 3
    # Skipped files do not make the index look stale forever.
    assert not index_mod.staleness(small_corpus, index_mod.load(tmp_path / "idx")).stale


def test_empty_corpus_is_an_error(tmp_path, encoder):
    (tmp_path / "empty").mkdir()
    with pytest.raises(index_mod.EmptyCorpus, match="no readable"):
        _build(tmp_path / "empty", tmp_path / "idx", encoder)


def test_large_corpora_switch_to_approximate_search(monkeypatch):
    import numpy as np

    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(300, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    assert type(index_mod._build_faiss(vecs)).__name__ == "IndexFlatIP"
    monkeypatch.setattr(index_mod, "EXACT_SEARCH_LIMIT", 100)
    assert "HNSW" in type(index_mod._build_faiss(vecs)).__name__


def test_sentence_tokens_are_saved_with_the_index(seeds_index):
    from qa.text import tokens

    loaded = index_mod.load(seeds_index)
    for i in range(loaded.n_sentences):
        assert loaded.saved_tokens(i) == tokens(loaded.sentence_text(i))


def test_an_index_saved_without_tokens_still_answers_the_same(small_corpus, tmp_path, encoder):
    # Generations written before tokens were saved: the reranker tokenises the sentences itself.
    root = tmp_path / "idx"
    _build(small_corpus, root, encoder)
    question = "What did Rusk say about July?"
    archive = Archive.open(small_corpus, root, encoder=encoder)
    before = archive.ask(question).to_json()
    assert archive.index._saved_tokens  # the reranker read the saved tokens
    gen = index_mod.load(root).gen
    _as_generation_without_checksums(gen)
    (gen / "tokens.npy").unlink()
    (gen / "token_offsets.npy").unlink()
    archive = Archive.open(small_corpus, root, encoder=encoder)
    assert archive.index.saved_tokens(0) is None
    assert archive.ask(question).to_json() == before


@pytest.mark.parametrize("damage", [b"", b"not numpy at all"])
def test_damaged_saved_tokens_are_ignored(small_corpus, tmp_path, encoder, damage):
    root = tmp_path / "idx"
    _build(small_corpus, root, encoder)
    question = "What did Rusk say about July?"
    before = Archive.open(small_corpus, root, encoder=encoder).ask(question).to_json()
    # In a generation with checksums a damaged file is a corrupt index (rebuilt: see
    # test_attacks_index); older generations had none and read around damaged tokens.
    gen = index_mod.load(root).gen
    _as_generation_without_checksums(gen)
    (gen / "tokens.npy").write_bytes(damage)
    archive = Archive.open(small_corpus, root, encoder=encoder)
    assert archive.ask(question).to_json() == before
    assert archive.index.saved_tokens(0) is None
