"""BM25 scores read straight from the files `bm25s` saves, without importing bm25s.

`import bm25s` pulls in scipy (a third of a second of every cold `qa ask`), yet answering needs
only the saved score matrix: one column of precomputed per-sentence scores per token. This reader
exposes the part of `bm25s.BM25` that the engine uses (`vocab_dict`, `scores`, `get_scores`) and
returns exactly bm25s's numbers (tested). Building an index still uses bm25s itself.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

# Variants whose scores need bm25s's extra "non-occurrence" term: those are left to bm25s.
NEEDS_BM25S = {"bm25l", "bm25+"}


class Unsupported(ValueError):
    pass


class SavedBM25:
    def __init__(self, folder: Path):
        folder = Path(folder)
        params = json.loads((folder / "params.index.json").read_text("utf-8"))
        if str(params.get("method", "")).lower() in NEEDS_BM25S:
            raise Unsupported(f"BM25 variant {params['method']}")
        self.params = params
        self.dtype = np.dtype(params.get("dtype", "float32"))
        self.vocab_dict: dict[str, int] = json.loads((folder / "vocab.index.json").read_text("utf-8"))
        self.scores = {
            "data": np.load(folder / "data.csc.index.npy"),
            "indices": np.load(folder / "indices.csc.index.npy"),
            "indptr": np.load(folder / "indptr.csc.index.npy"),
            "num_docs": int(params["num_docs"]),
        }
        if len(self.scores["indptr"]) < 1 or len(self.scores["data"]) != len(self.scores["indices"]):
            raise ValueError("inconsistent BM25 score arrays")

    def get_scores(self, query_tokens: list[str]) -> np.ndarray:
        """Summed BM25 score of every sentence for these tokens (unknown tokens are ignored)."""
        data, indices, indptr = self.scores["data"], self.scores["indices"], self.scores["indptr"]
        out = np.zeros(self.scores["num_docs"], dtype=self.dtype)
        for token in query_tokens:
            t = self.vocab_dict.get(token)
            if t is None or t + 1 >= len(indptr):
                continue
            lo, hi = indptr[t], indptr[t + 1]
            # A sentence appears once per token column, so plain fancy-index addition is exact
            # (and much faster than the np.add.at that bm25s uses for the general case).
            out[indices[lo:hi]] += data[lo:hi]
        return out
