"""The packaged MiniLM as an ONNX graph run by onnxruntime: the same vectors as sentence-transformers
without importing torch (which alone costs seconds before a first answer).

The graph is exported once from the packaged model (`qa index` does it, so `make run` and `make
test` do too) into a cache outside the index generations, so every index and every corpus shares
it::

    $QA_MODEL_CACHE, else $XDG_CACHE_HOME/qa/models, else ~/.cache/qa/models
      <model version>/model-e1.onnx        the graph that embeds documents and questions

Export writes a temporary file, checks it against sentence-transformers and only then renames it
into place, so a crash never leaves a half-written model where a reader would pick it up.
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np

from .embed import DIM, model_path, model_version

# Bump when the export recipe changes: the file name changes, so old exports are simply not used.
EXPORT_RECIPE = "e1"
# Texts the export is checked on before it is published (varied lengths, names, numbers, Cyrillic).
CHECK_TEXTS = [
    "What did Rusk say about July?",
    "The situation has rapidly worsened, declared Rusk, since July of this year.",
    "Telegram from Soviet Foreign Minister Gromyko to the CC CPSU, 20 October 1962.",
    "In 1962 the Soviet Union shipped 42 medium-range missiles and some 40,000 troops to Cuba, "
    "an operation the Presidium approved in May under the code name Anadyr.",
    "Москва, Кремль.",
    "ok",
]
MIN_AGREEMENT = 0.999  # cosine between this encoder and sentence-transformers, per text
# Batches are cut by padded size rather than count: short sentences go many at a time, long
# passages few, so the matrix products stay cache-sized and nothing pads far.
TOKEN_BUDGET = 512
MAX_BATCH = 128

Log = Callable[[str], None]


class ExportFailed(RuntimeError):
    pass


def cache_dir() -> Path:
    env = os.environ.get("QA_MODEL_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "qa" / "models"


def onnx_path() -> Path:
    slug = re.sub(r"[^\w.-]+", "_", model_version()).strip("_")
    return cache_dir() / slug / f"model-{EXPORT_RECIPE}.onnx"


def runtime_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "tokenizers"))


def default_threads() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 4))


def max_seq_length() -> int:
    """The packaged model's own limit (sentence-transformers truncates there too)."""
    try:
        cfg = json.loads((Path(model_path()) / "sentence_bert_config.json").read_text("utf-8"))
        return int(cfg["max_seq_length"])
    except (OSError, ValueError, KeyError):
        return 256


def cpu_session(path: Path, threads: Optional[int] = None):
    """An onnxruntime CPU session as every graph of ours runs: fixed threads, quiet, no spinning."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or default_threads()
    options.inter_op_num_threads = 1
    # Idle worker threads sleep instead of spinning: on a shared machine spinning burns the
    # cores other processes need, and the spin gains nothing measurable for one question.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxEncoder:
    """Tokenizer + ONNX session + mean pooling + L2 normalisation, as the packaged model does it."""

    name = "onnx"

    def __init__(self, path: Path, threads: Optional[int] = None):
        from tokenizers import Tokenizer

        self.path = Path(path)
        self.session = cpu_session(path, threads)
        self.tokenizer = Tokenizer.from_file(str(Path(model_path()) / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_seq_length())
        self.tokenizer.no_padding()  # the packaged file pads to a fixed 128; we pad per batch

    def encode(self, texts: list[str], progress=None) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        ids = [e.ids for e in self.tokenizer.encode_batch(list(texts))]
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        order = np.argsort(-lengths, kind="stable")
        out = np.empty((len(texts), DIM), dtype=np.float32)
        i = 0
        while i < len(order):
            width = int(lengths[order[i]])
            batch = order[i : i + max(1, min(MAX_BATCH, TOKEN_BUDGET // max(width, 1)))]
            input_ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for r, j in enumerate(batch):
                input_ids[r, : lengths[j]] = ids[j]
                mask[r, : lengths[j]] = 1
            hidden = self.session.run(
                None, {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
            )[0]
            m = mask[..., None].astype(np.float32)
            vecs = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
            out[batch] = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
            if progress is not None:
                progress(len(batch))
            i += len(batch)
        return out


    def encode_tokens(self, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """(normalised sentence vector, token vectors incl. [CLS]/[SEP]) per text, as
        sentence-transformers' `output_value=None` gives them; for token-level grading features."""
        out = []
        for text in texts:
            ids = np.array([self.tokenizer.encode(text).ids], dtype=np.int64)
            mask = np.ones_like(ids)
            hidden = self.session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )[0][0]
            vec = hidden.mean(axis=0)
            out.append((vec / max(float(np.linalg.norm(vec)), 1e-12), hidden))
        return out


@contextlib.contextmanager
def _published(dest: Path) -> Iterator[Path]:
    """A temporary path beside `dest` to write and check a model in; renamed into place (synced
    first) only when the block succeeds, removed in any case: a crash or a failed check never
    leaves a half-written model where a reader would pick it up."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Smallest cosine between corresponding rows of two sets of unit vectors."""
    return float((a * b).sum(axis=1).min()) if len(a) else 1.0


def export(dest: Path, reference=None, log: Log = lambda m: None) -> Path:
    """Export the packaged model to `dest` (needs torch), checked against sentence-transformers.

    `reference` is a loaded SentenceTransformer to reuse; one is loaded otherwise.
    """
    import warnings

    import torch

    from .embed import load_sentence_transformer

    st = reference if reference is not None else load_sentence_transformer()
    bert = st[0].auto_model.eval()

    class LastHiddenState(torch.nn.Module):
        # BertModel.forward takes keyword arguments only; the exporter passes positional ones.
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = st.tokenizer(CHECK_TEXTS[:2], padding=True, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    log(f"exporting the model to ONNX once, for fast start-up: {dest}")
    with _published(dest) as tmp:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                LastHiddenState(bert),
                tuple(sample[n] for n in names),
                str(tmp),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes={n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]},
                opset_version=17,
                dynamo=False,
            )
        got = OnnxEncoder(tmp, threads=1).encode(CHECK_TEXTS)
        want = st.encode(CHECK_TEXTS, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        worst = agreement(got, want)
        if worst < MIN_AGREEMENT:
            raise ExportFailed(f"the exported model disagrees with sentence-transformers (cosine {worst:.5f})")
    return dest
