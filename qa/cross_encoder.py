"""A cross-encoder over (question, candidate sentence): the packaged MiniLM reads both together,
with full attention between them, and gives one relevance logit.

Nothing is downloaded and nothing is trained at run time. The learned part is small and committed:
low-rank updates (LoRA) of the top transformer layers, their layer norms and a linear head, in
``qa/models/cross_encoder.npz`` (written by ``scripts/train_cross_encoder.py``); every other
weight is the packaged model's. The delta is merged into the packaged weights and exported once
per machine as an ONNX graph beside the bi-encoder's export (see qa/onnx_encoder.py)::

    <model cache>/<model version>/cross-<recipe>-<delta digest>.onnx

Scoring runs on onnxruntime with the packaged tokenizer, in float32, without importing torch. The
export needs torch (as the bi-encoder's does); it is checked against the torch model and published
atomically. `prepare()` writes it (index time); `CrossEncoder.load()` writes it on first use when
it is missing.
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from .embed import model_path, model_version
from .onnx_encoder import ExportFailed, _published, cache_dir, cpu_session

DELTA_PATH = Path(__file__).parent / "models" / "cross_encoder.npz"
# Bump when the graph recipe (inputs, pooling, head) changes: old exports are then not used.
EXPORT_RECIPE = "c1"
MAX_LENGTH = 128  # tokens of question + sentence together; the longer one is cut first
# The linear maps of a BERT layer that carry a low-rank update (paths under encoder.layer.<i>).
LORA_TARGETS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)
# Pairs an export is checked on (varied lengths, names, numbers, Cyrillic, a truncated pair).
CHECK_PAIRS = [
    ("What did Rusk say about July?", "The situation has rapidly worsened, declared Rusk, since July of this year."),
    ("When was the telegram sent?", "Moscow, October 20, 1962."),
    ("How many missiles were shipped?", "In 1962 the Soviet Union shipped 42 medium-range missiles and some "
     "40,000 troops to Cuba, an operation the Presidium approved in May under the code name Anadyr. " * 4),
    ("Кто?", "Москва, Кремль."),
    ("ok", "ok"),
]
MAX_EXPORT_ERROR = 1e-3  # largest |logit difference| allowed between the graph and the torch model
TOKEN_BUDGET = 4096  # padded tokens per onnxruntime call

Log = Callable[[str], None]


# -- the delta ------------------------------------------------------------------------------------
@dataclass
class Delta:
    """What training changed: LoRA factors per linear map, replaced tensors (layer norms), the head."""

    meta: dict
    tensors: dict[str, np.ndarray]
    digest: str = ""

    @property
    def layers(self) -> list[int]:
        return [int(i) for i in self.meta["layers"]]

    @property
    def scale(self) -> float:
        return float(self.meta["alpha"]) / float(self.meta["rank"])

    @classmethod
    def load(cls, path: Path = DELTA_PATH) -> "Delta":
        raw = Path(path).read_bytes()
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            tensors = {k: np.asarray(z[k], dtype=np.float32) for k in z.files if k != "meta"}
        if meta.get("format") != 1:
            raise ValueError(f"{path}: unknown cross-encoder delta format {meta.get('format')!r}")
        return cls(meta, tensors, hashlib.sha256(raw).hexdigest()[:12])

    def save(self, path: Path) -> None:
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            meta=np.array(json.dumps(self.meta, sort_keys=True)),
            **{k: np.asarray(v, dtype=np.float32) for k, v in sorted(self.tensors.items())},
        )
        Path(path).write_bytes(buf.getvalue())

    def merged(self, base: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The packaged BertModel's tensors that change: W + scale * B @ A, and replaced ones."""
        out: dict[str, np.ndarray] = {}
        for key, value in self.tensors.items():
            if key.endswith(".lora_A"):
                name = key[: -len(".lora_A")]
                b = self.tensors[name + ".lora_B"]
                out[name + ".weight"] = (base[name + ".weight"] + self.scale * (b @ value)).astype(np.float32)
            elif not key.endswith(".lora_B") and not key.startswith("head."):
                out[key] = value
        return out


# -- tokenisation (shared by training and run time, so both see the same ids) -------------------------
def tokenizer():
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(model_path()) / "tokenizer.json"))
    tok.enable_truncation(MAX_LENGTH, strategy="longest_first")
    tok.no_padding()
    return tok


def encode_pairs(tok, question: str, texts: Sequence[str]) -> list[tuple[list[int], list[int]]]:
    """(input ids, token type ids) of "[CLS] question [SEP] text [SEP]" for each text."""
    return [(e.ids, e.type_ids) for e in tok.encode_batch([(question, t) for t in texts])]


def pad(pairs: Sequence[tuple[list[int], list[int]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(input_ids, attention_mask, token_type_ids), padded to the longest pair."""
    width = max(len(ids) for ids, _ in pairs)
    input_ids = np.zeros((len(pairs), width), dtype=np.int64)
    types = np.zeros_like(input_ids)
    mask = np.zeros_like(input_ids)
    for r, (ids, tt) in enumerate(pairs):
        input_ids[r, : len(ids)] = ids
        types[r, : len(ids)] = tt
        mask[r, : len(ids)] = 1
    return input_ids, mask, types


# -- the torch model (training and export only) --------------------------------------------------------
def torch_model(
    delta: Optional[Delta] = None, layers: Sequence[int] = (4, 5), rank: int = 16, alpha: float = 32.0, merged: bool = False
):
    """The packaged BertModel with LoRA on `layers` and a head on [CLS] + mean pooling.

    With `delta`, its weights are loaded (its own layers, rank and alpha); with `merged` too, the
    LoRA updates are folded into plain linear layers (the graph that is exported).
    """
    import torch
    from torch import nn
    from transformers import AutoModel

    if delta is not None:
        layers, rank, alpha = delta.layers, int(delta.meta["rank"]), float(delta.meta["alpha"])

    class LoRALinear(nn.Module):
        def __init__(self, base: nn.Linear):
            super().__init__()
            self.base = base
            self.scale = alpha / rank
            self.lora_A = nn.Parameter(torch.zeros(rank, base.in_features))
            self.lora_B = nn.Parameter(torch.zeros(base.out_features, rank))
            nn.init.kaiming_uniform_(self.lora_A, a=5**0.5)

        def forward(self, x):
            return self.base(x) + (x @ self.lora_A.T @ self.lora_B.T) * self.scale

    class CrossEncoderModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = AutoModel.from_pretrained(model_path())
            for p in self.bert.parameters():
                p.requires_grad_(False)
            self.layers = [int(i) for i in layers]
            if not merged:
                for i in self.layers:
                    layer = self.bert.encoder.layer[i]
                    for target in LORA_TARGETS:
                        parent_name, _, leaf = target.rpartition(".")
                        parent = layer.get_submodule(parent_name)
                        setattr(parent, leaf, LoRALinear(getattr(parent, leaf)))
                    for name, p in layer.named_parameters():
                        if "LayerNorm" in name:
                            p.requires_grad_(True)
            self.head = nn.Linear(2 * self.bert.config.hidden_size, 1)
            nn.init.normal_(self.head.weight, std=0.02)
            nn.init.zeros_(self.head.bias)

        def forward(self, input_ids, attention_mask, token_type_ids):
            # Frozen lower layers record no autograd graph: backward runs through the top ones only.
            h = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            mean = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return self.head(torch.cat([h[:, 0], mean], dim=-1)).squeeze(-1)

        def trainable(self) -> list:
            return [p for p in self.parameters() if p.requires_grad]

        def delta(self, meta: dict) -> Delta:
            tensors = {}
            for name, p in self.named_parameters():
                if p.requires_grad:
                    tensors[name.removeprefix("bert.")] = p.detach().cpu().numpy().astype(np.float32)
            info = {"format": 1, "layers": self.layers, "rank": rank, "alpha": alpha,
                    "max_length": MAX_LENGTH, "recipe": EXPORT_RECIPE, "base": model_version()}
            return Delta({**meta, **info}, tensors)

    model = CrossEncoderModel()
    if delta is not None:
        own = dict(model.named_parameters())
        if merged:
            base = {k: v.detach().numpy() for k, v in model.bert.state_dict().items()}
            values = {**{"bert." + k: v for k, v in delta.merged(base).items()},
                      **{k: v for k, v in delta.tensors.items() if k.startswith("head.")}}
        else:
            values = {(k if k.startswith("head.") else "bert." + k): v for k, v in delta.tensors.items()}
        with torch.no_grad():
            for key, value in values.items():
                target = own.get(key)
                if target is None or tuple(target.shape) != value.shape:
                    raise ValueError(f"cross-encoder delta tensor {key} does not fit the packaged model")
                target.copy_(torch.from_numpy(np.ascontiguousarray(value)))
    model.eval()
    return model


# -- export ---------------------------------------------------------------------------------------
def onnx_path(delta: Delta) -> Path:
    slug = re.sub(r"[^\w.-]+", "_", model_version()).strip("_")
    return cache_dir() / slug / f"cross-{EXPORT_RECIPE}-{delta.digest}.onnx"


def export(delta: Delta, dest: Path, log: Log = lambda m: None) -> Path:
    """Merge `delta` into the packaged model and export the graph to `dest` (needs torch), checked
    against the unmerged torch model on CHECK_PAIRS."""
    import warnings

    import torch

    tok = tokenizer()
    ids, mask, types = (torch.from_numpy(a) for a in pad([p for q, t in CHECK_PAIRS for p in encode_pairs(tok, q, [t])]))
    with torch.no_grad():
        want = torch_model(delta)(ids, mask, types).numpy()
        model = torch_model(delta, merged=True)

    log(f"exporting the cross-encoder to ONNX once: {dest}")
    with _published(dest) as tmp:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (ids[:2], mask[:2], types[:2]),
                str(tmp),
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["logit"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "sequence"},
                    "attention_mask": {0: "batch", 1: "sequence"},
                    "token_type_ids": {0: "batch", 1: "sequence"},
                    "logit": {0: "batch"},
                },
                opset_version=17,
                dynamo=False,
            )
        got = CrossEncoder(tmp, threads=1).score_pairs(CHECK_PAIRS)
        worst = float(np.abs(got - want).max())
        if not worst <= MAX_EXPORT_ERROR:
            raise ExportFailed(f"the exported cross-encoder disagrees with the torch model (logit error {worst:.5f})")
    return dest


# -- run time -------------------------------------------------------------------------------------
class CrossEncoder:
    """Tokenizer + ONNX session: relevance logits of (question, text) pairs, higher = more relevant."""

    def __init__(self, path: Path, threads: Optional[int] = None):
        self.path = Path(path)
        self.session = cpu_session(path, threads)
        self.tokenizer = tokenizer()
        self._lock = threading.Lock()

    @classmethod
    def load(cls, delta_path: Path = DELTA_PATH, threads: Optional[int] = None, log: Log = lambda m: None) -> "CrossEncoder":
        """The graph of the committed delta, exported first when this machine has none yet."""
        return cls(prepare(delta_path, log), threads)

    def score(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """One float32 logit per text, from batched calls (pairs sorted by length to pad little)."""
        if not len(texts):
            return np.zeros(0, dtype=np.float32)
        return self._run(encode_pairs(self.tokenizer, question, texts))

    def score_pairs(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        encoded = [p for q, t in pairs for p in encode_pairs(self.tokenizer, q, [t])]
        return self._run(encoded) if encoded else np.zeros(0, dtype=np.float32)

    def _run(self, encoded: list[tuple[list[int], list[int]]]) -> np.ndarray:
        lengths = np.array([len(ids) for ids, _ in encoded])
        order = np.argsort(-lengths, kind="stable")
        out = np.empty(len(encoded), dtype=np.float32)
        i = 0
        while i < len(order):
            width = int(lengths[order[i]])
            batch = order[i : i + max(1, TOKEN_BUDGET // max(width, 1))]
            ids, mask, types = pad([encoded[j] for j in batch])
            with self._lock:
                out[batch] = self.session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
            i += len(batch)
        return out


_prepare_lock = threading.Lock()


def prepare(delta_path: Path = DELTA_PATH, log: Log = lambda m: None) -> Path:
    """The path of the delta's exported graph, exporting it when missing (once per machine)."""
    delta = Delta.load(delta_path)
    dest = onnx_path(delta)
    with _prepare_lock:
        if not dest.is_file():
            export(delta, dest, log=log)
    return dest


# -- the reranker's feature -------------------------------------------------------------------------
FEATURE = "cross"  # the name of the reranker feature computed by `candidate_scores`
_shared: dict[Path, CrossEncoder] = {}


def shared(delta_path: Path = DELTA_PATH, log: Log = lambda m: None) -> CrossEncoder:
    """One process-wide scorer per delta (the session is thread-safe; loading costs a second)."""
    with _prepare_lock:
        found = _shared.get(Path(delta_path))
    if found is None:
        found = CrossEncoder.load(delta_path, log=log)
        with _prepare_lock:
            found = _shared.setdefault(Path(delta_path), found)
    return found


def candidate_scores(index, question: str, rows: np.ndarray, scorer: Optional[CrossEncoder] = None) -> np.ndarray:
    """The reranker feature `cross`: the cross-encoder's logit of (question, sentence) for each
    candidate row of `index`, in the order of `rows` (float64, like the other features)."""
    scorer = scorer or shared()
    return scorer.score(question, [index.sentence_text(int(r)) for r in rows]).astype(np.float64)
