"""The measurement scripts: development archives found generically, and leave-one-archive-out
training in which the held-out archive has no influence at all (not even on the archive weight)."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from .conftest import ROOT, SEEDS, SHARED

sys.path.insert(0, str(ROOT / "scripts"))
import archives as A  # noqa: E402
import train_reranker as T  # noqa: E402


def _archive_dir(root, name, with_qa=True):
    d = root / "archives" / name
    (d / "corpus").mkdir(parents=True)
    (d / "corpus" / "001_a.txt").write_text("A title\n\nSome text.\n", "utf-8")
    if with_qa:
        (d / "qa.jsonl").write_text('{"id": "q1", "question": "What?", "answerable": false}\n', "utf-8")
        (d / "quiz.csv").write_text("question,answer,reference,expected\n", "utf-8")
    return d


def test_archives_are_found_generically_and_selected_by_short_name(tmp_path):
    shared = tmp_path / "shared"
    (shared / "eval").mkdir(parents=True)
    (shared / "eval" / "dev_qa.jsonl").write_text("", "utf-8")
    _archive_dir(shared, "frus-1961-63-v05")
    _archive_dir(shared, "no-gold-yet", with_qa=False)  # no qa.jsonl: not an archive to measure
    (shared / "archives" / "stray.txt").write_text("not a folder", "utf-8")
    found = A.list_archives(shared)
    assert [a.name for a in found] == ["seeds", "frus-1961-63-v05"]
    seeds, v05 = found
    assert seeds.corpus == SEEDS and seeds.conversations is None and seeds.quiz is None
    assert v05.quiz == shared / "archives" / "frus-1961-63-v05" / "quiz.csv" and v05.conversations is None
    assert shared not in v05.index.parents, "indexes are never written into the shared folder"

    _archive_dir(shared, "new-archive-x7")  # dropped in later: picked up
    found = A.list_archives(shared)
    assert [a.name for a in A.select(found, ["x7", "v05"])] == ["frus-1961-63-v05", "new-archive-x7"]
    assert [a.name for a in A.select(found, None)] == [a.name for a in found]
    with pytest.raises(SystemExit, match="unknown archive.*v99.*available: seeds"):
        A.select(found, ["v99"])


def test_no_shared_folder_means_no_archives(tmp_path):
    assert A.list_archives(tmp_path / "absent") == []


@pytest.mark.skipif(not (SHARED / "archives").is_dir(), reason="../shared/archives not available")
def test_the_shared_development_archives_are_all_found():
    names = [a.name for a in A.list_archives(SHARED)]
    assert names[0] == "seeds"
    assert {"frus-1961-63-v05", "frus-1964-68-v14"} <= set(names)


@pytest.mark.skipif(not (SHARED / "eval" / "score_qa.py").is_file(), reason="../shared/eval not available")
def test_a_held_out_archive_has_no_influence_on_its_weights(archive, tmp_path):
    """Three 'archives' made of the seeds' dev questions. Training without one of them gives the
    same weights whatever that one contains -- including the leave-one-out choice of the archive
    weight, made among the others -- while the others do change them."""
    rows = [json.loads(line) for line in (SHARED / "eval" / "dev_qa.jsonl").read_text("utf-8").splitlines() if line.strip()]
    parts = {"p0": rows[0::3], "p1": rows[1::3], "p2": rows[2::3]}
    arches = []
    for name, part in parts.items():
        qa = tmp_path / f"{name}.jsonl"
        qa.write_text("".join(json.dumps(r) + "\n" for r in part), "utf-8")
        arches.append(A.DevArchive(name, SEEDS, qa, None, None, None, SHARED / "eval"))
    asked = {a.name: T.ask_all(archive, a.questions(), T.gold_label) for a in arches}
    for lst in asked.values():
        for q in lst:
            if not q.answerable:
                q.labels = None
    squad_like = T.ask_all(archive, [r for r in rows if r["answerable"]], T.gold_label)

    def data(held_out_asked):
        return T.TrainingData(
            squad_like, squad_like, arches, {a.name: archive for a in arches}, dict(asked, p2=held_out_asked), 0
        )

    honest = T.train(data(asked["p2"]), ["p2"])
    # The held-out archive's questions relabelled at random: nothing may change.
    rng = np.random.default_rng(0)
    scrambled = [T.Asked(q.X, None if q.labels is None else rng.permutation(q.labels), not q.answerable,
                         q.cands, q.frame, q.index) for q in asked["p2"]]
    assert T.train(data(scrambled), ["p2"]) == honest
    assert honest["trained_on"]["archives"] == ["p0", "p1"] and honest["trained_on"]["excluded"] == ["p2"]
    assert set(honest["weight_selection"]["results"]) == {f"{w:g}" for w in T.WEIGHT_CHOICES}
    assert all(set(r["held_out_hit@1"]) == {"p0", "p1"} for r in honest["weight_selection"]["results"].values())
    # ... whereas an included archive does count.
    everything = T.train(data(scrambled), [])
    assert everything["trained_on"]["archives"] == ["p0", "p1", "p2"]
    assert everything["rank"] != honest["rank"]


def test_committed_weights_record_the_archives_they_learned_from():
    from qa.rerank import WEIGHTS_PATH

    t = json.loads(WEIGHTS_PATH.read_text("utf-8"))["trained_on"]
    assert t["archives"] and "seeds" in t["archives"] and t["archive_weight"] in T.WEIGHT_CHOICES
    if (SHARED / "archives").is_dir():
        assert set(t["archives"]) == {a.name for a in A.list_archives(SHARED)}, "retrain: python scripts/train_reranker.py"
