"""The bm25s-free reader of saved BM25 indexes gives bm25s's exact scores."""
from __future__ import annotations

import json

import numpy as np
import pytest

from qa import index as index_mod
from qa.bm25_reader import SavedBM25, Unsupported
from qa.text import tokens


def test_scores_equal_those_of_bm25s(seeds_index):
    bm25s = pytest.importorskip("bm25s")
    loaded = index_mod.load(seeds_index)
    ours = SavedBM25(loaded.gen / "bm25")
    theirs = bm25s.BM25.load(str(loaded.gen / "bm25"), show_progress=False)
    assert ours.vocab_dict == theirs.vocab_dict
    assert ours.scores["num_docs"] == theirs.scores["num_docs"] == loaded.n_sentences
    queries = [tokens(loaded.sentence_text(i)) for i in range(0, loaded.n_sentences, 7)]
    queries += [["rusk", "july"], ["july", "july", "rusk"], ["missil", "cuba", "notaword"]]
    checked = 0
    for q in queries:
        known = [t for t in q if t in theirs.vocab_dict]  # what qa.retrieve passes
        if not known:
            continue
        a, b = ours.get_scores(known), theirs.get_scores(known)
        assert a.dtype == b.dtype and np.array_equal(a, b), q
        checked += 1
    assert checked > 20
    assert not ours.get_scores(["notaword"]).any()


def test_the_index_uses_the_reader(seeds_index):
    loaded = index_mod.load(seeds_index)
    assert isinstance(loaded.bm25, SavedBM25)


def test_variants_needing_bm25s_are_left_to_it(seeds_index, tmp_path):
    import shutil

    folder = tmp_path / "bm25"
    shutil.copytree(index_mod.load(seeds_index).gen / "bm25", folder)
    params = json.loads((folder / "params.index.json").read_text("utf-8"))
    (folder / "params.index.json").write_text(json.dumps({**params, "method": "bm25+"}), "utf-8")
    with pytest.raises(Unsupported):
        SavedBM25(folder)
