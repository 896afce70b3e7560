"""Where the corpus and its index live when the user does not say."""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MAX_QUESTION_CHARS = 2000
# The most bytes read of one document: larger files are skipped with a message. $QA_MAX_FILE_MB overrides.
DEFAULT_MAX_FILE_MB = 64


def default_corpus() -> Path:
    """$QA_CORPUS, else ./seeds, else the seeds folder shipped beside the package."""
    env = os.environ.get("QA_CORPUS")
    if env:
        return Path(env)
    local = Path("seeds")
    if local.is_dir():
        return local
    return PROJECT_ROOT / "seeds"


def default_index(corpus: Path) -> Path:
    """$QA_INDEX; the project's index/ for the shipped seeds; otherwise a per-corpus cache folder.

    The index is never written into the corpus folder itself: corpora are often read-only.
    """
    env = os.environ.get("QA_INDEX")
    if env:
        return Path(env)
    corpus = Path(corpus).resolve()
    if corpus == (PROJECT_ROOT / "seeds").resolve():
        return PROJECT_ROOT / "index"
    if corpus == Path("seeds").resolve():
        return Path("index")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qa" / "indexes"
    slug = re.sub(r"[^\w.-]+", "_", corpus.name)[:40] or "corpus"
    digest = hashlib.sha1(str(corpus).encode()).hexdigest()[:10]
    return cache / f"{slug}-{digest}"


def max_file_bytes() -> int:
    """$QA_MAX_FILE_MB (a positive number of megabytes) in bytes, else DEFAULT_MAX_FILE_MB.

    A value that is not a positive number is ignored (the default applies)."""
    try:
        mb = float(os.environ.get("QA_MAX_FILE_MB", ""))
    except ValueError:
        mb = 0.0
    if not 0 < mb < float("inf"):
        mb = DEFAULT_MAX_FILE_MB
    return max(1, int(mb * 1024 * 1024))
