"""Path arguments of the commands, checked before any work starts, refused with a message in words.

Every command that writes a file (`qa batch -o`, `qa grade -o`) asks `check_output` first: an output
that is one of the command's own inputs, by any spelling, symlink or hard link, is refused, never
overwritten. `output_format` is the one table of output extensions.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterable, Optional

from .display import printable

OUTPUT_FORMATS = ("jsonl", "csv", "md")
OUTPUT_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".md": "md", ".markdown": "md"}


class PathUnusable(ValueError):
    """A path argument cannot be used as given; the message says why in words."""


class OutputUnusable(PathUnusable):
    """The output cannot be written (or, with --resume, continued); the message says why."""


def same_file(a: str | Path, b: str | Path) -> bool:
    """True when `a` and `b` name one file: same inode (symlinks, hard links, `./x` vs `x`), or, when
    either does not exist yet, the same fully resolved path."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        pass
    try:
        return Path(a).resolve() == Path(b).resolve()
    except (OSError, RuntimeError):
        return False


def output_format(path: Optional[str | Path], given: Optional[str]) -> str:
    """The format to write: --format when given, else from -o's extension; jsonl on stdout."""
    if given:
        return given
    if path is None or str(path) == "-":
        return "jsonl"
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_EXTENSIONS:
        known = ", ".join(OUTPUT_EXTENSIONS)
        raise PathUnusable(
            f"cannot tell the output format of {printable(path)} from its extension "
            f"({printable(suffix) or 'none'}): use {known}, or give --format {'|'.join(OUTPUT_FORMATS)}"
        )
    return OUTPUT_EXTENSIONS[suffix]


def check_output(path: str | Path, inputs: Iterable[str | Path] = ()) -> None:
    """Refuse an output the command must not or cannot write: one of its inputs, a folder, a file in
    a folder that does not exist. Other failures (no permission, a read-only or full disk) are
    reported when the file is opened or written."""
    shown = printable(path)
    for source in inputs:
        if str(source) != "-" and same_file(path, source):
            raise PathUnusable(f"the output {shown} is the input file {printable(source)}: writing it would destroy it; choose another -o")
    p = Path(path)
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise PathUnusable(f"cannot write {shown}: {exc.strerror or exc}") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise PathUnusable(f"the output {shown} is a folder; give a file name")
    if mode is None:
        parent = p.parent
        if not parent.is_dir():
            what = "is not a folder" if parent.exists() else "does not exist"
            raise PathUnusable(f"cannot write {shown}: the folder {printable(parent)} {what}")


def corpus_problem(path: str | Path) -> Optional[str]:
    """Why `path` cannot be a corpus (None when it is a folder)."""
    p = Path(path)
    if p.is_dir():
        return None
    shown = printable(p)
    if p.exists():
        return f"--corpus {shown} is a file, not a folder: give the folder that holds the documents"
    if p.is_symlink():
        return f"--corpus {shown} is a broken link: its target does not exist"
    return f"corpus folder not found: {shown}"


def check_corpus(path: str | Path) -> None:
    """A corpus must be an existing folder."""
    problem = corpus_problem(path)
    if problem:
        raise PathUnusable(problem)
