"""The persisted index: SQLite tables, FAISS dense vectors and a bm25s lexical index, per generation.

Layout of an index folder::

    index/
      .qa-index          marker: this folder is an index of qa's (a folder without it is never written to
                         unless it is empty, or an index written before the marker existed)
      CURRENT            name of the live generation (replaced atomically with os.replace)
      .lock              flock'd by writers so concurrent `qa index` runs take turns
      gen-<id>/          one complete, immutable build
        .qa-generation   marker: qa wrote this folder (with its strict name, what garbage collection deletes)
        manifest.json    model, versions, per-document content hashes, counts, size and sha256 of every file
        verified.json    stat identity (size, mtime, ctime, inode) of every file when its sha256 was last checked
        store.sqlite     documents, sentences, passages
        sentences.npy    normalised float32 embeddings, row = sentence id
        passages.npy     the same for passages
        sentences.faiss  exact (flat) or approximate (HNSW) inner-product index
        passages.faiss
        bm25/            bm25s index over sentence tokens
        tokens.npy       those tokens per sentence, as ids into the BM25 vocabulary
        token_offsets.npy where each sentence's ids start

A build writes a new generation beside the old one (in `.tmp-gen-<id>/`, renamed when complete) and
only then points CURRENT at it, so a `kill -9` at any moment leaves the previous generation usable. A
build that fails (disk full) removes its unfinished generation. Readers never lock.

Loading checks every file against the manifest's sizes and sha256 checksums. Hashing all of a
100k-sentence index (~490 MB) takes ~0.9 s on a 2-core machine, too much for every `qa ask`, so a
file is hashed again only when its stat identity differs from the one in verified.json (which the
build writes, and a reader rewrites after hashing, e.g. in a copied index): writing to a file, even
restoring its mtime afterwards, changes its ctime, so any overwrite is hashed and caught. `qa index
--check` always hashes everything. Generations written before checksums were recorded are not verified.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np

from . import documents as docs_mod
from .passages import CHUNKER_VERSION, split_document
from .segment import SEGMENTER_VERSION
from .people import archive_people
from .speakers import SPEAKER_VERSION, archive_titles, attribute_speakers, load_aliases
from .text import TOKENIZER_VERSION, tokens
from .types import Document, DocumentMeta, Passage, Sentence

INDEX_FORMAT = 1
# How vectors are made: the model (its float32 graph) embeds sentences only; a passage's vector is
# pooled from its sentences' (see pool_passages). Bump when that changes: every vector is then
# remade. /2: no more int8 document vectors (they depended on the CPU).
VECTORS_RECIPE = "sentences+pooled-passages/2"
# Up to this many vectors an exact flat search is both fast and perfect; above it, HNSW.
EXACT_SEARCH_LIMIT = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
SECTION_CODES = {"body": 0, "metadata": 1, "structure": 2}
SECTION_NAMES = {v: k for k, v in SECTION_CODES.items()}

Log = Callable[[str], None]


class IndexError_(Exception):
    """Base class: something is wrong with the index folder."""


class IndexMissing(IndexError_):
    pass


class IndexCorrupt(IndexError_):
    pass


class IndexLocked(IndexError_):
    pass


class IndexUnusable(IndexError_, docs_mod.CorpusError):
    """The --index path cannot hold an index (a file, a folder of the user's): bad input, exit 2."""


class IndexWriteFailed(IndexError_):
    """A build could not write its new generation (disk full, read-only): the previous one is intact."""

    def __init__(self, root: Path, reason: str):
        super().__init__(f"could not write the index in {root}: {reason}")
        self.root, self.reason = root, reason


class EmptyCorpus(docs_mod.CorpusError):
    pass


def _faiss():
    import faiss  # imported lazily: commands that never search should not pay for it

    # One query at a time is faster on one thread: OpenMP fan-out costs more than a 10k-row scan,
    # and oversubscribes the CPU when several processes search at once.
    faiss.omp_set_num_threads(1)
    return faiss


@dataclass
class DocRecord:
    id: int
    doc: str
    sha256: str
    size: int
    mtime_ns: int
    meta: DocumentMeta
    sent_lo: int
    sent_hi: int
    pass_lo: int
    pass_hi: int


@dataclass
class Staleness:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    full_rebuild: Optional[str] = None  # reason, when nothing can be reused

    @property
    def stale(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.full_rebuild)

    def describe(self) -> str:
        if self.full_rebuild:
            return self.full_rebuild
        parts = []
        for name, items in (("added", self.added), ("changed", self.changed), ("removed", self.removed)):
            if items:
                parts.append(f"{len(items)} {name}")
        return ", ".join(parts) or "up to date"


def versions() -> dict:
    from .embed import DIM, model_version

    return {
        "format": INDEX_FORMAT,
        "model": model_version(),
        "dim": DIM,
        "segmenter": SEGMENTER_VERSION,
        "chunker": CHUNKER_VERSION,
        "vectors": VECTORS_RECIPE,
    }


class LoadedIndex:
    """An index generation read into memory (vectors memory-mapped)."""

    def __init__(self, root: Path, gen: Path, verify: str = "changed"):
        self.root = root
        self.gen = gen
        try:
            self.manifest = json.loads((gen / "manifest.json").read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise IndexCorrupt(f"unreadable manifest in {gen}: {exc}") from None
        if not isinstance(self.manifest, dict):
            raise IndexCorrupt(f"unreadable manifest in {gen}: not a JSON object")
        verify_files(gen, self.manifest, verify)
        try:
            self._load_tables()
            self.sent_vecs = np.load(gen / "sentences.npy", mmap_mode="r")
            self.pass_vecs = np.load(gen / "passages.npy", mmap_mode="r")
        except (OSError, ValueError, sqlite3.DatabaseError, KeyError) as exc:
            raise IndexCorrupt(f"damaged index files in {gen}: {exc}") from None
        self._check_shapes()
        self._sent_faiss = None
        self._pass_faiss = None
        self._bm25 = None
        self._saved_tokens = None  # (ids, offsets, words) once read; False when the files are absent

    # -- loading -------------------------------------------------------------------------------
    def _load_tables(self) -> None:
        con = sqlite3.connect(f"file:{self.gen / 'store.sqlite'}?mode=ro", uri=True)
        try:
            rows = con.execute(
                "SELECT id, doc, sha256, size, mtime_ns, meta, sent_lo, sent_hi, pass_lo, pass_hi, text "
                "FROM documents ORDER BY id"
            ).fetchall()
            self.docs: list[DocRecord] = []
            self.texts: list[str] = []
            for r in rows:
                meta = DocumentMeta(**json.loads(r[5]))
                meta.metadata_spans = [tuple(x) for x in meta.metadata_spans]
                meta.boilerplate_spans = [tuple(x) for x in meta.boilerplate_spans]
                meta.structure_spans = [tuple(x) for x in meta.structure_spans]
                self.docs.append(DocRecord(r[0], r[1], r[2], r[3], r[4], meta, r[6], r[7], r[8], r[9]))
                self.texts.append(r[10])
            s = con.execute(
                "SELECT doc_id, start, end, section, paragraph, line, speaker FROM sentences ORDER BY id"
            ).fetchall()
            arr = np.array([x[:6] for x in s], dtype=np.int64).reshape(-1, 6)
            self.sent_doc = arr[:, 0].astype(np.int32)
            self.sent_start = arr[:, 1]
            self.sent_end = arr[:, 2]
            self.sent_section = arr[:, 3].astype(np.int8)
            self.sent_para = arr[:, 4].astype(np.int32)
            self.sent_line = arr[:, 5].astype(np.int32)
            self.sent_speaker: list[Optional[str]] = [x[6] for x in s]
            p = con.execute(
                "SELECT doc_id, first, last, start, end, line FROM passages ORDER BY id"
            ).fetchall()
            parr = np.array(p, dtype=np.int64).reshape(-1, 6)
            self.pass_doc = parr[:, 0].astype(np.int32)
            self.pass_first = parr[:, 1]
            self.pass_last = parr[:, 2]
            self.pass_start = parr[:, 3]
            self.pass_end = parr[:, 4]
            self.pass_line = parr[:, 5].astype(np.int32)
        finally:
            con.close()
        self.doc_index = {d.doc: d.id for d in self.docs}

    def _check_shapes(self) -> None:
        n_s, n_p = len(self.sent_doc), len(self.pass_doc)
        counts = self.manifest.get("counts", {})
        if counts.get("sentences") != n_s or counts.get("passages") != n_p:
            raise IndexCorrupt(
                f"index tables disagree with the manifest ({n_s} sentences, {n_p} passages; "
                f"manifest says {counts.get('sentences')} and {counts.get('passages')})"
            )
        if self.sent_vecs.shape[0] != n_s or self.pass_vecs.shape[0] != n_p:
            raise IndexCorrupt("embedding files do not match the sentence and passage tables")
        if n_s and (int(self.sent_doc.max()) >= len(self.docs) or int(self.sent_end.max()) > max(len(t) for t in self.texts)):
            raise IndexCorrupt("sentence table points outside the stored documents")

    # -- search structures (loaded on first use) -------------------------------------------------
    @property
    def sent_faiss(self):
        if self._sent_faiss is None:
            self._sent_faiss = self._read_faiss("sentences.faiss", len(self.sent_doc))
        return self._sent_faiss

    @property
    def pass_faiss(self):
        if self._pass_faiss is None:
            self._pass_faiss = self._read_faiss("passages.faiss", len(self.pass_doc))
        return self._pass_faiss

    def _read_faiss(self, name: str, n: int):
        faiss = _faiss()
        try:
            index = faiss.read_index(str(self.gen / name))
        except Exception as exc:  # faiss raises RuntimeError with C++ text
            from .embed import first_line

            raise IndexCorrupt(f"cannot read {name}: {first_line(exc)}") from None
        if index.ntotal != n:
            raise IndexCorrupt(f"{name} holds {index.ntotal} vectors, expected {n}")
        if hasattr(index, "hnsw"):
            index.hnsw.efSearch = HNSW_EF_SEARCH
        return index

    @property
    def bm25(self):
        if self._bm25 is None:
            from .bm25_reader import SavedBM25, Unsupported

            try:
                try:
                    self._bm25 = SavedBM25(self.gen / "bm25")
                except Unsupported:
                    import bm25s

                    self._bm25 = bm25s.BM25.load(str(self.gen / "bm25"), show_progress=False)
            except Exception as exc:
                raise IndexCorrupt(f"cannot read the BM25 index: {exc}") from None
        return self._bm25

    def warm(self) -> None:
        """Touch every lazily loaded structure (so corruption is found before the first question)."""
        self.sent_faiss, self.pass_faiss, self.bm25  # noqa: B018

    # -- accessors -----------------------------------------------------------------------------
    def saved_tokens(self, i: int) -> Optional[list[str]]:
        """Sentence i's BM25 tokens as saved at build time (None for a generation without them)."""
        if self._saved_tokens is None:
            self._saved_tokens = False
            try:
                ids = np.load(self.gen / "tokens.npy")  # ~4 bytes a word: read whole, sliced fast
                offsets = np.load(self.gen / "token_offsets.npy")
                vocab = self.bm25.vocab_dict
                words = [""] * (max(vocab.values(), default=-1) + 1)
                for word, k in vocab.items():
                    words[k] = word
                if (
                    len(offsets) == self.n_sentences + 1
                    and offsets[0] == 0
                    and offsets[-1] == len(ids)
                    and bool(np.all(np.diff(offsets) >= 0))
                    and (len(ids) == 0 or int(ids.max()) < len(words))
                ):
                    self._saved_tokens = (ids, offsets, words)
            except Exception:  # noqa: BLE001 - absent (older builds) or damaged: tokenise instead
                pass
        if not self._saved_tokens:
            return None
        ids, offsets, words = self._saved_tokens
        return [words[k] for k in ids[offsets[i] : offsets[i + 1]].tolist() if k >= 0]

    def sentence_text(self, i: int) -> str:
        return self.texts[self.sent_doc[i]][self.sent_start[i] : self.sent_end[i]]

    def section(self, i: int) -> str:
        return SECTION_NAMES[int(self.sent_section[i])]

    @property
    def n_sentences(self) -> int:
        return len(self.sent_doc)

    @property
    def n_passages(self) -> int:
        return len(self.pass_doc)


# ---------------------------------------------------------------------------------------------
# Generations and locking


FOLDER_MARKER = ".qa-index"
GEN_MARKER = ".qa-generation"
VERIFIED = "verified.json"
GEN_NAME = re.compile(r"gen-\d{8}-\d{6}-\d+-\d{5}")
TMP_NAME = re.compile(r"\.tmp-(gen-\d{8}-\d{6}-\d+-\d{5})")
CURRENT_TMP_NAME = re.compile(r"\.CURRENT\.\d+")
# What a build writes into a generation (how generations written before GEN_MARKER are recognised).
GEN_FILES = {
    "manifest.json", "store.sqlite", "store.sqlite-journal", "sentences.npy", "passages.npy",
    "sentences.faiss", "passages.faiss", "bm25", "tokens.npy", "token_offsets.npy", GEN_MARKER, VERIFIED,
}
MARKER_TEXT = (
    "This folder is an index written by `qa index`. qa creates and deletes only CURRENT,\n"
    ".lock, .CURRENT.<pid> and gen-<id>/ or .tmp-gen-<id>/ folders holding a .qa-generation marker.\n"
)
MAX_CURRENT_BYTES = 256


def _is_dir(path: Path) -> bool:
    """A real folder (a symlink to one is never treated as part of the index)."""
    return path.is_dir() and not path.is_symlink()


def is_generation(path: Path) -> bool:
    """Whether qa wrote this folder: a strict gen-<id> or .tmp-gen-<id> name AND qa's contents (the
    generation marker, or for generations written before it, only files a build writes)."""
    if not (GEN_NAME.fullmatch(path.name) or TMP_NAME.fullmatch(path.name)) or not _is_dir(path):
        return False
    try:
        names = {p.name for p in path.iterdir()}
    except OSError:
        return False
    if GEN_MARKER in names:
        return True
    return names <= GEN_FILES and (path.name.startswith(".tmp-") or "manifest.json" in names)


def _read_current(root: Path) -> Optional[str]:
    """The generation name in CURRENT; None when there is no CURRENT; IndexCorrupt when unreadable."""
    cur = root / "CURRENT"
    try:
        with open(cur, "rb") as f:
            raw = f.read(MAX_CURRENT_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IndexCorrupt(f"cannot read {cur}: {exc.strerror or exc}") from None
    if len(raw) > MAX_CURRENT_BYTES:
        raise IndexCorrupt(f"{cur} is too long to name a generation")
    try:
        name = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise IndexCorrupt(f"{cur} does not hold a generation name (unreadable bytes)") from None
    if not GEN_NAME.fullmatch(name):
        raise IndexCorrupt(f"{cur} does not name a generation ({name[:60]!r})")
    return name


def _check_root(root: Path) -> None:
    if root.exists() and not root.is_dir():
        raise IndexUnusable(
            f"the index folder {root} is a file, not a folder: give --index a folder (new or empty, or an existing index)"
        )


def current_generation(root: Path) -> Optional[Path]:
    _check_root(root)
    name = _read_current(root)
    if name is None:
        return None
    gen = root / name
    if not _is_dir(gen) or not (gen / "manifest.json").is_file():
        raise IndexCorrupt(f"{root / 'CURRENT'} names a generation that does not exist ({name!r})")
    return gen


def load(root: Path, verify: str = "changed") -> LoadedIndex:
    """The live generation. `verify`: "changed" hashes the files whose stat identity changed since
    they were last verified, "all" hashes every file (`qa index --check`)."""
    gen = current_generation(root)
    if gen is None:
        raise IndexMissing(f"no index in {root}")
    return LoadedIndex(root, gen, verify=verify)


def claim_folder(root: Path) -> None:
    """Make sure `root` may be written as an index, creating it (with its marker) when absent or empty.

    A folder that is not empty is written only when it carries the marker, or is an index written
    before the marker existed (everything in it is qa's, or CURRENT names one of qa's generations):
    then the marker is added. Anything else is the user's, and refused.
    """
    _check_root(root)
    if (root / FOLDER_MARKER).is_file():
        return
    try:
        root.mkdir(parents=True, exist_ok=True)
        entries = list(root.iterdir())
    except OSError as exc:
        raise IndexUnusable(f"cannot use {root} as the index folder: {exc.strerror or exc}") from None
    if entries and not _looks_like_old_index(root, entries):
        shown = ", ".join(sorted(p.name for p in entries)[:3]) + (", …" if len(entries) > 3 else "")
        raise IndexUnusable(
            f"{root} is not empty and is not an index of qa's (it holds {shown}): qa writes an index only "
            "into a new or empty folder, or one it made; give --index a new folder"
        )
    try:
        fd = os.open(root / FOLDER_MARKER, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return
    except OSError as exc:
        raise IndexWriteFailed(root, _reason(exc)) from None
    try:
        os.write(fd, MARKER_TEXT.encode())
    except OSError as exc:
        raise IndexWriteFailed(root, _reason(exc)) from None
    finally:
        os.close(fd)


def _looks_like_old_index(root: Path, entries: list[Path]) -> bool:
    def ours(p: Path) -> bool:
        if p.name in ("CURRENT", ".lock") and p.is_file() and not p.is_symlink():
            return True
        return bool(CURRENT_TMP_NAME.fullmatch(p.name)) or is_generation(p)

    if all(ours(p) for p in entries):
        return True
    try:
        name = _read_current(root)
    except IndexCorrupt:
        return False
    return name is not None and GEN_NAME.fullmatch(name) is not None and is_generation(root / name)


@contextlib.contextmanager
def write_lock(root: Path, wait: float = 600.0) -> Iterator[None]:
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise IndexWriteFailed(root, _reason(exc)) from None
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise IndexLocked(f"another `qa index` holds {root / '.lock'}") from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish(root: Path, gen: Path) -> None:
    tmp = root / f".CURRENT.{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(gen.name + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, root / "CURRENT")
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    _fsync_dir(root)


def _collect_garbage(root: Path, keep: set[str], unfinished_only: bool = False) -> None:
    """Remove qa's unfinished builds and (unless `unfinished_only`) generations not in `keep`.

    Only what qa wrote is ever deleted (see is_generation): a user's `gen-2024-photos` stays.
    """
    for p in root.iterdir():
        if p.name in keep:
            continue
        if CURRENT_TMP_NAME.fullmatch(p.name):
            with contextlib.suppress(OSError):
                if p.is_file() and not p.is_symlink() and p.stat().st_size <= MAX_CURRENT_BYTES:
                    name = p.read_bytes().decode("ascii", "replace").strip()
                    if not name or GEN_NAME.fullmatch(name):  # empty: killed while writing it
                        p.unlink()
        elif (TMP_NAME.fullmatch(p.name) or not unfinished_only) and is_generation(p):
            shutil.rmtree(p, ignore_errors=True)


def _reason(exc: BaseException) -> str:
    """A short reason for a failed write; 'no space left on device' however the library says it."""
    from .embed import first_line

    text = str(exc)
    if getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or "No space left" in text or "disk is full" in text:
        return "no space left on device"
    if re.fullmatch(r"\d+ requested and \d+ written", text):  # numpy's words for a write cut short
        return "no space left on device (a write was cut short)"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower() + (f" ({exc.filename})" if exc.filename else "")
    return first_line(exc)


# ---------------------------------------------------------------------------------------------
# Checksums


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()  # hardware-accelerated: ~1.5 GB/s here, blake2b ~0.8
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _stat_identity(path: Path) -> list[int]:
    s = path.stat()
    return [s.st_size, s.st_mtime_ns, s.st_ctime_ns, s.st_ino]


def _gen_files(gen: Path) -> list[str]:
    """Every file of a generation that the manifest lists (all but the manifest and bookkeeping)."""
    out = []
    for f in sorted(gen.rglob("*")):
        rel = f.relative_to(gen).as_posix()
        if f.is_file() and rel not in ("manifest.json", GEN_MARKER, VERIFIED) and not rel.startswith(f"{VERIFIED}."):
            out.append(rel)
    return out


def _write_verified(gen: Path, identities: dict) -> None:
    """Record the stat identities just verified (best effort: a read-only index is hashed every time)."""
    tmp = gen / f"{VERIFIED}.{os.getpid()}"
    try:
        tmp.write_text(json.dumps(identities), "utf-8")
        os.replace(tmp, gen / VERIFIED)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()


def verify_files(gen: Path, manifest: dict, verify: str = "changed") -> None:
    """Raise IndexCorrupt when a file differs from the size and sha256 the manifest recorded.

    Generations written before checksums were recorded have no "files" entry: not verified.
    """
    files = manifest.get("files")
    if files is None:
        return
    if not isinstance(files, dict):
        raise IndexCorrupt(f"the manifest of {gen} lists its files wrongly")
    known = {}
    if verify != "all":
        with contextlib.suppress(OSError, ValueError):
            known = json.loads((gen / VERIFIED).read_text("utf-8"))
        if not isinstance(known, dict):
            known = {}
    identities, hashed = {}, False
    for rel, rec in files.items():
        if rel.startswith("/") or ".." in rel.split("/"):
            raise IndexCorrupt(f"the manifest of {gen} lists a file outside it ({rel[:60]!r})")
        path = gen / rel
        try:
            ident = _stat_identity(path)
        except OSError:
            raise IndexCorrupt(f"{rel} is missing from {gen}") from None
        if not isinstance(rec, dict) or ident[0] != rec.get("size"):
            raise IndexCorrupt(f"{rel} in {gen} has changed size ({ident[0]} bytes, recorded {rec.get('size') if isinstance(rec, dict) else '?'})")
        if known.get(rel) != ident:
            try:
                digest = _hash_file(path)
            except OSError as exc:
                raise IndexCorrupt(f"cannot read {rel} in {gen}: {exc.strerror or exc}") from None
            if digest != rec.get("sha256"):
                raise IndexCorrupt(f"{rel} in {gen} does not match its checksum (the file was changed or damaged)")
            hashed = True
        identities[rel] = ident
    if hashed or set(known) != set(identities):
        _write_verified(gen, identities)


# ---------------------------------------------------------------------------------------------
# Staleness


def _manifest_docs(loaded: Optional[LoadedIndex]) -> dict:
    return (loaded.manifest.get("documents", {}) if loaded else {}) or {}


def staleness(corpus: Path, loaded: Optional[LoadedIndex]) -> Staleness:
    """Compare the corpus on disk with the index (cheap: file sizes and mtimes, hashes only on doubt).

    Only the files scan_corpus accepts count: a link out of the corpus, a broken link or a FIFO is
    neither added nor changed however often it is looked at. A document skipped by the last build
    counts as added once it (or its sidecar) changes, so a fix is picked up by the next refresh.
    """
    st = Staleness()
    if loaded is None:
        st.full_rebuild = "no index yet"
        return st
    man = loaded.manifest
    want = versions()
    for key in ("format", "model", "dim", "segmenter", "chunker", "vectors"):
        if man.get(key) != want[key]:
            st.full_rebuild = f"index was built with {key}={man.get(key)!r}, now {want[key]!r}: rebuilding everything"
            return st
    if man.get("corpus") != str(Path(corpus).resolve()):
        st.full_rebuild = f"index was built for {man.get('corpus')}, not {Path(corpus).resolve()}: rebuilding"
        return st
    old = _manifest_docs(loaded)
    files, _ = docs_mod.scan_corpus(Path(corpus))
    # New attribution rules or alias tables: every document is re-annotated (vectors are kept).
    relabel = man.get("speakers") != speaker_signature(Path(corpus))
    skipped = man.get("skipped") or {}
    seen = set()
    for path in files:
        rel = path.relative_to(corpus).as_posix()
        seen.add(rel)
        rec = old.get(rel)
        if rec is None:
            was = skipped.get(rel)
            if isinstance(was, dict) and _same_stat(path, was) and _sidecar_sig(path) == was.get("sidecar"):
                continue
            st.added.append(rel)
        elif relabel or not _same_stat(path, rec) or _sidecar_sig(path) != rec.get("sidecar"):
            st.changed.append(rel)
    st.removed = sorted(set(old) - seen)
    return st


def speaker_signature(corpus: Path) -> str:
    """Attribution rules and tokenizer versions plus the corpus alias tables: a change re-annotates
    every document (speakers, BM25 tokens) without re-embedding it.

    The alias tables are hashed as load_aliases reads them (an unreadable or oversized file counts
    as absent), so no file is read twice and nothing outside the corpus is read at all.
    """
    import hashlib

    h = hashlib.sha1(f"{SPEAKER_VERSION}/{TOKENIZER_VERSION}".encode())
    h.update(json.dumps(load_aliases(corpus), sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return f"{SPEAKER_VERSION}:{h.hexdigest()[:12]}"


def _stat_sig(path: Path) -> dict:
    s = path.stat()
    return {"size": s.st_size, "mtime_ns": s.st_mtime_ns}


def _same_stat(path: Path, rec: dict) -> bool:
    try:
        sig = _stat_sig(path)
    except OSError:
        return False
    return sig["size"] == rec.get("size") and sig["mtime_ns"] == rec.get("mtime_ns")


def _sidecar_sig(path: Path) -> Optional[dict]:
    """Size and mtime of the document's sidecar (of the link itself when its target is missing);
    None without one."""
    side = docs_mod.sidecar_path(path)
    if side is None:
        return None
    try:
        return _stat_sig(side)
    except OSError:
        try:
            s = side.lstat()
        except OSError:
            return None
        return {"size": s.st_size, "mtime_ns": s.st_mtime_ns, "link": True}


def _skipped_sig(path: Path) -> dict:
    """What a skipped document's record holds: its stat and its sidecar's (see staleness)."""
    return {**_stat_sig(path), "sidecar": _sidecar_sig(path)}


# ---------------------------------------------------------------------------------------------
# Building


@dataclass
class BuildReport:
    documents: int = 0
    sentences: int = 0
    passages: int = 0
    embedded_documents: list[str] = field(default_factory=list)
    reused_documents: int = 0
    removed_documents: list[str] = field(default_factory=list)
    skipped: list[docs_mod.Skipped] = field(default_factory=list)
    seconds: float = 0.0
    full_rebuild: Optional[str] = None
    embedded_sentences: int = 0


@dataclass
class _DocUnits:
    document: Document
    size: int
    mtime_ns: int
    sidecar: Optional[dict]
    sentences: list[Sentence]
    passages: list[Passage]
    sent_vecs: Optional[np.ndarray] = None
    pass_vecs: Optional[np.ndarray] = None


def build(
    corpus: Path,
    root: Path,
    encoder,
    log: Log = lambda msg: None,
    progress_factory=None,
    force: bool = False,
) -> BuildReport:
    """(Re)build the index for `corpus` in `root`, re-embedding only added or changed documents.

    `progress_factory(total)` may return a callable taking the number of newly embedded items.
    """
    t0 = time.monotonic()
    corpus = Path(corpus)
    root = Path(root)
    claim_folder(root)
    with write_lock(root):
        # Unfinished builds of runs that died (kill -9) go first: they may be what fills the disk.
        _collect_garbage(root, set(), unfinished_only=True)
        old: Optional[LoadedIndex] = None
        report = BuildReport()
        try:
            old = load(root)
        except IndexMissing:
            pass
        except IndexCorrupt as exc:
            log(f"index in {root} is corrupt ({exc}); rebuilding it from the corpus")
            report.full_rebuild = f"corrupt index: {exc}"
        st = staleness(corpus, old)
        if force:
            st.full_rebuild = st.full_rebuild or "rebuild requested"
        if st.full_rebuild and old is not None:
            log(st.full_rebuild)
            report.full_rebuild = st.full_rebuild
            old = None

        files, scan_skipped = docs_mod.scan_corpus(corpus)
        for skip in scan_skipped:
            report.skipped.append(skip)
            log(f"warning: {skip}")
        aliases = load_aliases(corpus, warn=lambda msg: log(f"warning: {msg}"))
        signature = speaker_signature(corpus)
        old_docs = _manifest_docs(old)
        units: list[_DocUnits] = []
        skipped_sigs: dict = {}
        to_embed: list[_DocUnits] = []
        fresh: list[_DocUnits] = []  # loaded from disk now, to be attributed below
        for path in files:
            rel = path.relative_to(corpus).as_posix()
            rec = old_docs.get(rel)
            if (
                old is not None
                and rec is not None
                and rel not in st.changed
                and rel not in st.added
                and rec.get("speakers") == signature
            ):
                units.append(_reuse(old, rel, rec))
                report.reused_documents += 1
                continue
            try:
                document = docs_mod.load_document(corpus, path)
            except (ValueError, OSError) as exc:
                report.skipped.append(docs_mod.Skipped(rel, str(exc)))
                log(f"warning: skipped {rel}: {exc}")
                with contextlib.suppress(OSError):
                    skipped_sigs[rel] = _skipped_sig(path)
                continue
            for warning in document.warnings:
                log(f"warning: {warning}")
            sentences, passages = split_document(document)
            sig = _stat_sig(path)
            u = _DocUnits(document, sig["size"], sig["mtime_ns"], _sidecar_sig(path), sentences, passages)
            fresh.append(u)
            # Same content (e.g. only touched) or only the speaker rules changed: keep the vectors.
            if old is not None and rec is not None and rec.get("sha256") == document.sha256:
                _reuse_vectors(old, rel, u)
                report.reused_documents += 1
            else:
                to_embed.append(u)
            units.append(u)

        # Speakers, once every document is known: a title the document itself does not tie to a
        # person ("The President" in a participants list) may be tied by the rest of the archive.
        # Reused documents are attributed again only when that archive-wide table changed.
        people = archive_people([u.document for u in units], aliases)
        titles = archive_titles([u.document for u in units], aliases, people)
        titles_sig = hashlib.sha1(json.dumps([titles, people], sort_keys=True).encode()).hexdigest()[:12]
        relabel = old is None or old.manifest.get("archive_titles") != titles_sig
        fresh_ids = {id(u) for u in fresh}
        for u in units:
            if id(u) in fresh_ids or relabel:
                attribute_speakers(u.document, u.sentences, aliases, titles, people)

        if not units:
            raise EmptyCorpus(
                f"no readable .txt or .md documents in {corpus}"
                + (f" ({len(report.skipped)} skipped)" if report.skipped else "")
            )

        n_items = sum(len(u.sentences) for u in to_embed)
        prepare = getattr(encoder, "prepare_for_indexing", None)
        if prepare is not None:
            prepare(log)  # e.g. export the fast encoder, once per machine
        progress = progress_factory(n_items) if (progress_factory and n_items) else None
        _embed(to_embed, encoder, progress)
        for u in to_embed:
            report.embedded_documents.append(u.document.doc)
            report.embedded_sentences += len(u.sentences)

        report.removed_documents = list(st.removed)
        keep = {old.gen.name} if old is not None else set()
        try:
            gen = _write_generation(root, corpus, units, skipped_sigs, titles_sig)
        except (OSError, sqlite3.Error, RuntimeError) as exc:  # faiss reports write errors as RuntimeError
            raise IndexWriteFailed(root, _reason(exc)) from None
        try:
            _publish(root, gen)
        except BaseException as exc:
            with contextlib.suppress(OSError, IndexError_):
                if _read_current(root) != gen.name:  # not published: nobody will ever read it
                    shutil.rmtree(gen, ignore_errors=True)
            if isinstance(exc, (OSError, sqlite3.Error, RuntimeError)):
                raise IndexWriteFailed(root, _reason(exc)) from None
            raise
        _collect_garbage(root, keep | {gen.name})
        report.documents = len(units)
        report.sentences = sum(len(u.sentences) for u in units)
        report.passages = sum(len(u.passages) for u in units)
        report.seconds = time.monotonic() - t0
        return report


# Texts per encoder call: enough to batch many small documents together, few enough to keep the
# texts and vectors of one call in a few tens of MB.
EMBED_CHUNK = 16_384


def _embed(units: list[_DocUnits], encoder, progress=None) -> None:
    """Embed the sentences of `units`, many documents per encoder call, and pool passages from them.

    The encoder sorts each call's texts by length, so pooling documents means batches of similar
    lengths (little padding) and full batches even when every document is short.
    """
    start = 0
    while start < len(units):
        group, n = [], 0
        while start + len(group) < len(units) and (not group or n < EMBED_CHUNK):
            u = units[start + len(group)]
            group.append(u)
            n += len(u.sentences)
        texts: list[str] = []
        for u in group:
            t = u.document.text
            texts += [t[s.start : s.end] for s in u.sentences]
        vecs = np.asarray(encoder.encode(texts, progress=progress), dtype=np.float32)
        at = 0
        for u in group:
            u.sent_vecs = vecs[at : at + len(u.sentences)]
            at += len(u.sentences)
            u.pass_vecs = pool_passages(u.sent_vecs, u.sentences, u.passages)
        start += len(group)


def pool_passages(sent_vecs: np.ndarray, sentences: list[Sentence], passages: list[Passage]) -> np.ndarray:
    """Passage vectors as the length-weighted mean of their sentences' vectors, renormalised.

    MiniLM's own vector of a passage is a mean over its tokens, so this is what it would give
    without the context each sentence lends the others. Embedding passages as well as sentences
    doubled the cost of an index build (passages hold as many tokens as the sentences they
    cover); pooled vectors cost nothing, and on SQuAD they retrieve the answer's passage first
    slightly more often (dense passage hit@1 0.549 against 0.531; hit@5 0.80 against 0.83).
    """
    out = np.zeros((len(passages), sent_vecs.shape[1]), dtype=np.float32)
    if not passages:
        return out
    weights = np.array([s.end - s.start for s in sentences], dtype=np.float32)
    for j, p in enumerate(passages):
        v = weights[p.first : p.last + 1] @ sent_vecs[p.first : p.last + 1]
        out[j] = v / max(float(np.linalg.norm(v)), 1e-12)
    return out


def _reuse(old: LoadedIndex, rel: str, rec: dict) -> _DocUnits:
    d = old.docs[old.doc_index[rel]]
    text = old.texts[d.id]
    sentences = [
        Sentence(
            start=int(old.sent_start[i]),
            end=int(old.sent_end[i]),
            section=old.section(i),
            paragraph=int(old.sent_para[i]),
            line=int(old.sent_line[i]),
            speaker=old.sent_speaker[i],
        )
        for i in range(d.sent_lo, d.sent_hi)
    ]
    passages = [
        Passage(
            first=int(old.pass_first[j]) - d.sent_lo,
            last=int(old.pass_last[j]) - d.sent_lo,
            start=int(old.pass_start[j]),
            end=int(old.pass_end[j]),
            paragraph=0,
            line=int(old.pass_line[j]),
        )
        for j in range(d.pass_lo, d.pass_hi)
    ]
    document = Document(doc=rel, text=text, sha256=d.sha256, meta=d.meta)
    return _DocUnits(
        document,
        d.size,
        d.mtime_ns,
        rec.get("sidecar"),
        sentences,
        passages,
        np.asarray(old.sent_vecs[d.sent_lo : d.sent_hi]),
        np.asarray(old.pass_vecs[d.pass_lo : d.pass_hi]),
    )


def _reuse_vectors(old: LoadedIndex, rel: str, u: _DocUnits) -> None:
    d = old.docs[old.doc_index[rel]]
    old_sent = [(int(old.sent_start[i]), int(old.sent_end[i])) for i in range(d.sent_lo, d.sent_hi)]
    old_pass = [(int(old.pass_start[j]), int(old.pass_end[j])) for j in range(d.pass_lo, d.pass_hi)]
    if old_sent == [(s.start, s.end) for s in u.sentences] and old_pass == [(p.start, p.end) for p in u.passages]:
        u.sent_vecs = np.asarray(old.sent_vecs[d.sent_lo : d.sent_hi])
        u.pass_vecs = np.asarray(old.pass_vecs[d.pass_lo : d.pass_hi])


def _save_tokens(folder: Path, sentence_tokens: list[list[str]], vocab: dict[str, int]) -> None:
    """Every sentence's BM25 tokens as ids into the BM25 vocabulary (tokens.npy, with row i at
    token_offsets[i]:token_offsets[i + 1]): the reranker reads them instead of tokenising the
    48 candidates of every question again (about a third of the work beyond the embedding)."""
    offsets = np.zeros(len(sentence_tokens) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(t) for t in sentence_tokens])
    ids = np.fromiter((vocab.get(t, -1) for toks in sentence_tokens for t in toks), dtype=np.int32, count=int(offsets[-1]))
    np.save(folder / "tokens.npy", ids)
    np.save(folder / "token_offsets.npy", offsets)


def _build_faiss(vecs: np.ndarray):
    faiss = _faiss()
    dim = vecs.shape[1]
    if len(vecs) <= EXACT_SEARCH_LIMIT:
        index = faiss.IndexFlatIP(dim)
    else:
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    if len(vecs):
        faiss.omp_set_num_threads(os.cpu_count() or 1)  # building a graph does parallelise well
        try:
            index.add(np.ascontiguousarray(vecs, dtype=np.float32))
        finally:
            faiss.omp_set_num_threads(1)
    return index


def _write_generation(
    root: Path, corpus: Path, units: list[_DocUnits], skipped_sigs: dict, titles_sig: str = ""
) -> Path:
    signature = speaker_signature(corpus)

    gen_name = f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 100000:05d}"
    tmp = root / f".tmp-{gen_name}"
    tmp.mkdir(parents=True)
    try:
        (tmp / GEN_MARKER).write_bytes(b"")  # first of all: garbage collection recognises it by this
        _write_generation_files(tmp, corpus, units, skipped_sigs, signature, titles_sig)
        gen = root / gen_name
        os.replace(tmp, gen)
    except BaseException:  # a failed build (disk full, interrupted) removes what it wrote
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(root)
    return gen


def _write_generation_files(
    tmp: Path, corpus: Path, units: list[_DocUnits], skipped_sigs: dict, signature: str, titles_sig: str = ""
) -> None:
    from .embed import DIM

    sent_rows, pass_rows, doc_rows, bm25_tokens = [], [], [], []
    manifest_docs = {}
    s_off = p_off = 0
    for doc_id, u in enumerate(units):
        d = u.document
        for s in u.sentences:
            sent_rows.append(
                (len(sent_rows), doc_id, s.start, s.end, SECTION_CODES[s.section], s.paragraph, s.line, s.speaker)
            )
            bm25_tokens.append(tokens(d.text[s.start : s.end]))
        for p in u.passages:
            pass_rows.append((len(pass_rows), doc_id, s_off + p.first, s_off + p.last, p.start, p.end, p.line))
        doc_rows.append(
            (doc_id, d.doc, d.sha256, u.size, u.mtime_ns, json.dumps(d.meta.to_dict(), ensure_ascii=False), d.text,
             s_off, s_off + len(u.sentences), p_off, p_off + len(u.passages))
        )
        manifest_docs[d.doc] = {
            "sha256": d.sha256,
            "size": u.size,
            "mtime_ns": u.mtime_ns,
            "sidecar": u.sidecar,
            "speakers": signature,
            "sentences": [s_off, s_off + len(u.sentences)],
            "passages": [p_off, p_off + len(u.passages)],
        }
        s_off += len(u.sentences)
        p_off += len(u.passages)
    con = sqlite3.connect(tmp / "store.sqlite")
    try:
        con.executescript(
            """
            CREATE TABLE documents (id INTEGER PRIMARY KEY, doc TEXT UNIQUE NOT NULL, sha256 TEXT NOT NULL,
                size INTEGER, mtime_ns INTEGER, meta TEXT NOT NULL, text TEXT NOT NULL,
                sent_lo INTEGER, sent_hi INTEGER, pass_lo INTEGER, pass_hi INTEGER);
            CREATE TABLE sentences (id INTEGER PRIMARY KEY, doc_id INTEGER NOT NULL, start INTEGER NOT NULL,
                end INTEGER NOT NULL, section INTEGER NOT NULL, paragraph INTEGER, line INTEGER, speaker TEXT);
            CREATE TABLE passages (id INTEGER PRIMARY KEY, doc_id INTEGER NOT NULL, first INTEGER NOT NULL,
                last INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, line INTEGER);
            """
        )
        con.executemany("INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?)", doc_rows)
        con.executemany("INSERT INTO sentences VALUES (?,?,?,?,?,?,?,?)", sent_rows)
        con.executemany("INSERT INTO passages VALUES (?,?,?,?,?,?,?)", pass_rows)
        con.commit()
    finally:
        con.close()

    sent_vecs = np.concatenate([u.sent_vecs for u in units if len(u.sentences)] or [np.zeros((0, DIM), np.float32)])
    pass_vecs = np.concatenate([u.pass_vecs for u in units if len(u.passages)] or [np.zeros((0, DIM), np.float32)])
    np.save(tmp / "sentences.npy", sent_vecs.astype(np.float32, copy=False))
    np.save(tmp / "passages.npy", pass_vecs.astype(np.float32, copy=False))
    faiss = _faiss()
    sent_index = _build_faiss(sent_vecs)
    faiss.write_index(sent_index, str(tmp / "sentences.faiss"))
    faiss.write_index(_build_faiss(pass_vecs), str(tmp / "passages.faiss"))

    import bm25s

    bm = bm25s.BM25()
    bm.index(bm25_tokens, show_progress=False)
    bm.save(str(tmp / "bm25"), show_progress=False)
    _save_tokens(tmp, bm25_tokens, bm.vocab_dict)

    for f in tmp.rglob("*"):
        if f.is_file():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
    files = {rel: {"size": (tmp / rel).stat().st_size, "sha256": _hash_file(tmp / rel)} for rel in _gen_files(tmp)}
    manifest = dict(versions())
    manifest.update(
        {
            "corpus": str(Path(corpus).resolve()),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "speakers": signature,
            "archive_titles": titles_sig,  # see speakers.archive_titles
            "dense_index": "hnsw" if len(sent_vecs) > EXACT_SEARCH_LIMIT else "flat",
            "counts": {"documents": len(units), "sentences": s_off, "passages": p_off},
            "documents": manifest_docs,
            "skipped": skipped_sigs,
            "files": files,
        }
    )
    with open(tmp / "manifest.json", "w", encoding="utf-8") as fh:
        fh.write(json.dumps(manifest, ensure_ascii=False, indent=1))
        fh.flush()
        os.fsync(fh.fileno())
    # The files were hashed just now: loading them on this machine need not hash them again.
    _write_verified(tmp, {rel: _stat_identity(tmp / rel) for rel in files})
    _fsync_dir(tmp)
