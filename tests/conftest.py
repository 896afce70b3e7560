"""Shared fixtures: the real packaged model (loaded once per session) and real documents."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
SHARED = ROOT.parent / "shared"
DATA = Path(__file__).resolve().parent / "data"

TELEGRAM = "004_e7fbc198e1c2cf16.txt"
REPORT = "000_96c424edd7d3daf7.txt"


@pytest.fixture(scope="session")
def encoder():
    """The encoder users get: the ONNX export (exported here once if missing), else sentence-transformers."""
    from qa.embed import Encoder

    enc = Encoder()
    enc.prepare_for_indexing()
    return enc.load()


@pytest.fixture(scope="session")
def torch_encoder():
    """sentence-transformers on torch: the reference model, run by other kernels than onnxruntime's."""
    from qa.embed import Encoder

    return Encoder(backend="torch").load()


@pytest.fixture(scope="session")
def seeds_index(tmp_path_factory, encoder):
    """An index of the seeds built once per session, in a temporary folder."""
    from qa.index import build

    root = tmp_path_factory.mktemp("seeds-index")
    build(SEEDS, root, encoder)
    return root


@pytest.fixture(scope="session")
def archive(seeds_index, encoder):
    from qa.engine import Archive

    return Archive.open(SEEDS, seeds_index, encoder=encoder, log=lambda m: None)


@pytest.fixture
def small_corpus(tmp_path):
    """A writable copy of the seeds plus one plain note, for tests that change files."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for f in SEEDS.iterdir():
        shutil.copy2(f, corpus / f.name)
    (corpus / "notes").mkdir()
    (corpus / "notes" / "memo.md").write_text(
        "# Memo on grain deliveries\n\nThe ministry shipped four thousand tonnes of grain to Havana in August. "
        "Deliveries of fertiliser were postponed until spring.\n",
        encoding="utf-8",
    )
    return corpus


@pytest.fixture
def shared():
    if not SHARED.is_dir():
        pytest.skip("../shared is not present beside the project")
    return SHARED
