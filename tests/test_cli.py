"""`qa ask` and friends, run as a user runs them."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from qa.cli import main

from .conftest import ROOT, SEEDS, TELEGRAM


def run_qa(*args, input=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "qa", *args], capture_output=True, text=True, env=env, input=input, timeout=300)


def test_ask_json_returns_verbatim_quotes_with_metadata(seeds_index):
    proc = run_qa("ask", "What did Rusk say about July?", "--json", "--corpus", str(SEEDS), "--index", str(seeds_index))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["question"] == "What did Rusk say about July?"
    assert out["abstained"] is False and out["answers"]
    texts = {f.name: f.read_text("utf-8") for f in SEEDS.iterdir()}
    for a in out["answers"]:
        assert set(a) >= {"quote", "doc", "start", "end", "line", "score", "speaker", "section", "title", "date"}
        assert texts[a["doc"]][a["start"]:a["end"]] == a["quote"]
        assert a["end"] - a["start"] <= 600
        assert a["line"] == texts[a["doc"]].count("\n", 0, a["start"]) + 1
    telegram = [a for a in out["answers"] if a["doc"] == TELEGRAM]
    assert telegram and telegram[0]["title"] == "Telegram from Soviet Foreign Minister Gromyko to the CC CPSU"
    assert telegram[0]["date"] == "1962-10-20"
    assert any("July" in a["quote"] for a in out["answers"])


@pytest.mark.parametrize(
    "question, message",
    [("", "empty"), ("   ", "empty"), ("x" * 2001, "too long"), ("what\x00 about\x1b[2J July", "control characters")],
)
def test_bad_questions_are_rejected_cleanly(question, message, capsys):
    assert main(["ask", question, "--corpus", str(SEEDS)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_empty_corpus_exit_code_2(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = run_qa("ask", "anything", "--corpus", str(tmp_path / "empty"), "--index", str(tmp_path / "idx"))
    assert proc.returncode == 2
    assert "no readable" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_corpus_exit_code_2(tmp_path, capsys):
    assert main(["ask", "anything", "--corpus", str(tmp_path / "nope"), "--index", str(tmp_path / "idx")]) == 2
    assert "corpus folder not found" in capsys.readouterr().err


def test_human_output_shows_quote_and_reference(seeds_index, capsys):
    assert main(["ask", "What did Rusk say about July?", "--corpus", str(SEEDS), "--index", str(seeds_index), "--k", "3"]) == 0
    out = capsys.readouterr().out
    assert "Telegram from Soviet Foreign Minister Gromyko to the CC CPSU, 1962-10-20" in out
    assert "line " in out and "July" in out


def test_ask_restricted_to_one_document(seeds_index, capsys):
    rc = main(["ask", "missiles", "--json", "--doc", "000_96c424edd7d3daf7.txt", "--corpus", str(SEEDS), "--index", str(seeds_index)])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert {a["doc"] for a in out["answers"]} == {"000_96c424edd7d3daf7.txt"}


def test_index_check_reports_freshness(seeds_index, capsys):
    assert main(["index", "--check", "--corpus", str(SEEDS), "--index", str(seeds_index)]) == 0
    assert "up to date" in capsys.readouterr().out
