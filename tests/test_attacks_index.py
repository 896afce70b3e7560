"""The index folder under attack: a user's folder given as --index, a full disk, a damaged CURRENT,
overwritten index files, a file given as the index folder. Real files and real `qa` processes."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa import index as index_mod
from qa.engine import Archive

from .conftest import ROOT

QUESTION = "What did Rusk say about July?"


def run_qa(*args, timeout=300):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "qa", *args], capture_output=True, text=True, env=env, timeout=timeout)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# -- 1. only ever delete what the index itself created ---------------------------------------------


def _users_things(folder: Path) -> dict[str, bytes]:
    """Folders of a user's that merely look like qa's, and a file beside them."""
    (folder / "gen-2024-photos").mkdir(parents=True)
    (folder / "gen-2024-photos" / "beach.jpg").write_bytes(b"\xff\xd8\xff\xe0 a photo")
    (folder / ".tmp-notes").mkdir()
    (folder / ".tmp-notes" / "todo.txt").write_text("call the archive\n", "utf-8")
    # Even the exact name of one of qa's generations is not enough: it must hold what qa writes there.
    (folder / "gen-20240101-120000-1-00001").mkdir()
    (folder / "gen-20240101-120000-1-00001" / "thesis.md").write_text("chapter 1\n", "utf-8")
    mine = ("gen-2024-photos/", ".tmp-notes/", "gen-20240101-120000-1-00001/")
    return {k: v for k, v in _tree(folder).items() if k.startswith(mine)}


def test_qa_index_refuses_a_folder_of_the_users(small_corpus, tmp_path):
    folder = tmp_path / "my-stuff"
    _users_things(folder)
    (folder / "diary.txt").write_text("dear diary\n", "utf-8")
    before = _tree(folder)
    proc = run_qa("index", "--corpus", str(small_corpus), "--index", str(folder))
    assert proc.returncode == 2, proc.stderr
    assert str(folder) in proc.stderr and "not empty" in proc.stderr and "new folder" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _tree(folder) == before
    assert sorted(p.name for p in folder.iterdir()) == sorted({k.split("/")[0] for k in before})
    # `qa ask` refuses it the same way instead of building an index there.
    proc = run_qa("ask", QUESTION, "--corpus", str(small_corpus), "--index", str(folder))
    assert proc.returncode == 2 and "not empty" in proc.stderr and "Traceback" not in proc.stderr
    assert _tree(folder) == before


def test_garbage_collection_deletes_only_what_qa_wrote(small_corpus, tmp_path, encoder):
    root = tmp_path / "idx"
    index_mod.build(small_corpus, root, encoder)
    first = index_mod.current_generation(root)
    assert (root / index_mod.FOLDER_MARKER).is_file() and (first / index_mod.GEN_MARKER).is_file()
    users = _users_things(root)
    # What a build killed with -9 leaves behind: an unfinished generation of qa's own.
    leftover = root / ".tmp-gen-20240101-120000-2-00002"
    shutil.copytree(first, leftover)
    proc = run_qa("index", "--rebuild", "--corpus", str(small_corpus), "--index", str(root))
    assert proc.returncode == 0, proc.stderr
    proc = run_qa("index", "--rebuild", "--corpus", str(small_corpus), "--index", str(root))
    assert proc.returncode == 0, proc.stderr
    assert {k: v for k, v in _tree(root).items() if k in users} == users  # every file of the user's is intact
    assert not leftover.exists() and not first.exists()  # qa's own are swept
    gens = [p.name for p in root.iterdir() if index_mod.is_generation(p)]
    assert gens == [index_mod.current_generation(root).name]  # a full rebuild keeps no older generation


def test_an_index_written_before_the_marker_is_still_refreshed(small_corpus, tmp_path, encoder):
    root = tmp_path / "idx"
    index_mod.build(small_corpus, root, encoder)
    (root / index_mod.FOLDER_MARKER).unlink()
    (index_mod.current_generation(root) / index_mod.GEN_MARKER).unlink()
    (small_corpus / "new.txt").write_text("A new cable about grain shipped to Havana.", "utf-8")
    report = index_mod.build(small_corpus, root, encoder)
    assert report.embedded_documents == ["new.txt"] and report.reused_documents == 3
    assert (root / index_mod.FOLDER_MARKER).is_file()
    assert len([p for p in root.iterdir() if p.name.startswith("gen-")]) == 2


def test_an_empty_folder_and_the_projects_index_folder_are_accepted(small_corpus, tmp_path, encoder):
    empty = tmp_path / "empty"
    empty.mkdir()
    index_mod.build(small_corpus, empty, encoder)
    assert index_mod.load(empty).n_sentences > 0
    # The shipped index/ folder holds a README and .gitignore: its committed marker makes it qa's.
    assert (ROOT / "index" / index_mod.FOLDER_MARKER).is_file()
    index_mod.claim_folder(ROOT / "index")


# -- 2. disk full during a refresh -----------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path):
    """A 2 MB tmpfs (needs root and mount); skipped politely where it cannot be mounted."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_a_full_disk_fails_the_refresh_cleanly_and_the_previous_index_answers(small_corpus, tiny_disk, encoder):
    root = tiny_disk / "idx"
    index_mod.build(small_corpus, root, encoder)
    gen = index_mod.current_generation(root)
    files_before = _tree(root)
    before = Archive.open(small_corpus, root, encoder=encoder, log=lambda m: None).ask(QUESTION).to_json()
    # Fill the disk so that no second generation fits.
    st = os.statvfs(tiny_disk)
    filler = tiny_disk / "filler"
    filler.write_bytes(b"\0" * max(0, st.f_bavail * st.f_frsize - 200_000))
    (small_corpus / "new.txt").write_text("A new cable: grain shipped to Havana in August. " * 20, "utf-8")

    proc = run_qa("index", "--corpus", str(small_corpus), "--index", str(root))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "no space left on device" in proc.stderr and str(root) in proc.stderr
    assert sorted(p.name for p in root.iterdir()) == [".lock", index_mod.FOLDER_MARKER, "CURRENT", gen.name]
    assert _tree(root) == files_before  # no unfinished generation keeps the disk full; CURRENT unchanged

    proc = run_qa("ask", QUESTION, "--json", "--corpus", str(small_corpus), "--index", str(root))
    assert proc.returncode == 0, proc.stderr
    assert "could not refresh the index: no space left on device" in proc.stderr
    assert "answering from the previous index" in proc.stderr and "Traceback" not in proc.stderr
    assert json.loads(proc.stdout) == before
    assert _tree(root) == files_before

    # The filler goes, but a build killed with -9 left its unfinished generation, and with it no
    # second generation fits either: the next build sweeps it first, then refreshes.
    filler.unlink()
    leftover = root / ".tmp-gen-20240101-120000-2-00002"
    shutil.copytree(gen, leftover)
    archive = Archive.open(small_corpus, root, encoder=encoder, log=lambda m: None)
    assert archive.state.state == "refreshed" and "new.txt" in archive.index.doc_index
    assert not leftover.exists()


# -- 3. a damaged CURRENT ----------------------------------------------------------------------------


DAMAGED_CURRENT = {
    "not-utf8": b"gen-\xff",
    "10-MB": b"gen-" + b"x" * 10_000_000,
    "not-a-generation": b"store.sqlite\n",
    "outside": b"../../../etc\n",
    "missing-generation": b"gen-20240101-120000-1-00001\n",
}


@pytest.mark.parametrize("damage", DAMAGED_CURRENT)
def test_a_damaged_current_is_a_corrupt_index_that_is_rebuilt(small_corpus, tmp_path, encoder, damage):
    root = tmp_path / "idx"
    index_mod.build(small_corpus, root, encoder)
    (root / "CURRENT").write_bytes(DAMAGED_CURRENT[damage])
    proc = run_qa("index", "--check", "--corpus", str(small_corpus), "--index", str(root))
    assert proc.returncode == 1 and "CURRENT" in proc.stdout and "Traceback" not in proc.stderr
    assert len(proc.stdout) < 500
    proc = run_qa("index", "--rebuild", "--corpus", str(small_corpus), "--index", str(root))
    assert proc.returncode == 0, proc.stderr
    assert "corrupt" in proc.stderr and "Traceback" not in proc.stderr
    assert index_mod.load(root).n_sentences > 0

    (root / "CURRENT").write_bytes(DAMAGED_CURRENT[damage])
    messages = []
    archive = Archive.open(small_corpus, root, encoder=encoder, log=messages.append)
    assert any("corrupt" in m and "CURRENT" in m for m in messages), messages
    assert archive.state.state == "rebuilt" and archive.ask(QUESTION).answers


# -- 4. index files overwritten with random bytes of the same size --------------------------------


@pytest.mark.parametrize(
    "name",
    ["sentences.faiss", "passages.faiss", "sentences.npy", "passages.npy", "store.sqlite", "tokens.npy",
     "bm25/data.csc.index.npy"],
)
def test_an_overwritten_index_file_is_detected_and_rebuilt(small_corpus, tmp_path, encoder, name):
    root = tmp_path / "idx"
    index_mod.build(small_corpus, root, encoder)
    before = Archive.open(small_corpus, root, encoder=encoder, log=lambda m: None).ask(QUESTION).to_json()
    path = index_mod.current_generation(root) / name
    st = path.stat()
    data = path.read_bytes()
    keep = min(128, len(data) // 4)  # headers intact: the file still opens, its body is garbage
    path.write_bytes(data[:keep] + os.urandom(len(data) - keep))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # even with its old date
    assert path.stat().st_size == st.st_size

    proc = run_qa("index", "--check", "--corpus", str(small_corpus), "--index", str(root))
    assert proc.returncode == 1, proc.stdout
    assert name in proc.stdout and "checksum" in proc.stdout and "up to date" not in proc.stdout

    messages = []
    archive = Archive.open(small_corpus, root, encoder=encoder, log=messages.append)
    assert any("corrupt" in m and name in m for m in messages), messages
    assert archive.state.state == "rebuilt"
    assert archive.ask(QUESTION).to_json() == before


def test_a_copied_index_is_verified_once_and_still_answers(small_corpus, tmp_path, encoder):
    root = tmp_path / "idx"
    index_mod.build(small_corpus, root, encoder)
    before = Archive.open(small_corpus, root, encoder=encoder, log=lambda m: None).ask(QUESTION).to_json()
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)  # new inodes and times: every file is hashed again, and matches
    messages = []
    archive = Archive.open(small_corpus, copy, encoder=encoder, log=messages.append)
    assert archive.state.state == "fresh" and not messages
    assert archive.ask(QUESTION).to_json() == before
    verified = json.loads((index_mod.current_generation(copy) / index_mod.VERIFIED).read_text("utf-8"))
    assert set(verified) == set(archive.index.manifest["files"])


# -- 5. a file given as the index folder -------------------------------------------------------------


@pytest.mark.parametrize("command", [["ask", QUESTION], ["index"], ["index", "--check"]])
def test_a_file_given_as_the_index_folder_is_refused(small_corpus, tmp_path, command):
    afile = tmp_path / "afile"
    afile.write_text("my notes\n", "utf-8")
    proc = run_qa(*command, "--corpus", str(small_corpus), "--index", str(afile))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert str(afile) in out and "not a folder" in out and "Traceback" not in out
    assert afile.read_text("utf-8") == "my notes\n"
