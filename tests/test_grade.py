"""`qa grade`: verdicts, reasons and evidence on the seeds, robust quiz reading, the CLI."""
from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from qa.cli import main
from qa.grade import (
    Grader,
    GraderModel,
    QuizFileError,
    QuizRow,
    RowError,
    Writer,
    compare,
    markdown_report,
    numbers,
    read_rows,
)

from .conftest import SEEDS, TELEGRAM


@pytest.fixture(scope="module")
def grader(archive):
    return Grader(archive)


def grade(grader, question, answer, reference=None):
    return grader.grade(QuizRow(1, question, answer, reference))


def assert_verbatim(g):
    assert g.evidence is not None
    text = (SEEDS / g.evidence.doc).read_text("utf-8-sig")
    assert text[g.evidence.start : g.evidence.end] == g.evidence.quote
    assert g.evidence.reference().endswith(f"{g.evidence.doc}, line {g.evidence.line}")


# -- number mismatch -------------------------------------------------------------------------------


def test_number_against_the_key(grader):
    q = "In how many countries did Rusk say American missiles and atomic weapons are?"
    right = grade(grader, q, "In only three countries besides the USA", "three")
    wrong = grade(grader, q, "Five", "three")
    assert right.verdict == "correct" and "matches the key" in right.reasons
    assert wrong.verdict == "incorrect"
    assert "number differs: answer says Five, key says three" in wrong.reasons
    assert wrong.score <= 0.2 < right.score
    # An answer that contains the key's number among others is not contradicting it.
    assert grade(grader, q, "From two to three", "three").verdict == "correct"


def test_number_against_the_archive_without_key(grader):
    q = "How long did the conversation with Rusk last?"
    right = grade(grader, q, "About two hours.")
    wrong = grade(grader, q, "About six hours.")
    assert right.verdict == "correct"
    assert "two hours" in right.evidence.quote
    assert wrong.verdict == "incorrect"
    assert any(r.startswith("number differs: answer says six, archive says two") for r in wrong.reasons)
    assert_verbatim(wrong)


def test_numbers_read_digits_words_and_months():
    assert numbers("from 11 to 13, then six to eight in July") == {"11": "11", "13": "13", "6": "six", "8": "eight", "july": "July"}
    assert numbers("at first he said it may rain") == {}  # neither an ordinal nor the month


# -- negation and opposites ------------------------------------------------------------------------


def test_negated_claim_fails_although_topically_close(grader):
    q = "What did Rusk say about South Korea?"
    right = grade(grader, q, "There are no American nuclear weapons there either.")
    wrong = grade(grader, q, "The USA keeps nuclear weapons in South Korea.")
    assert right.verdict == "correct"
    assert wrong.verdict == "incorrect"
    assert any(r.startswith("contradicts") for r in wrong.reasons)
    assert "South Korea" in wrong.evidence.quote


def test_negation_against_a_key(grader):
    q = "What did Polyansky say happened to the missiles?"
    g = grade(grader, q, "They were not withdrawn.", "withdrawn")
    assert g.verdict == "incorrect" and any(r.startswith("contradicts") for r in g.reasons)
    bare = grade(grader, "What did Rusk say about American nuclear weapons in Japan?", "Japan hosts many of them.", "none")
    assert bare.verdict == "incorrect"


def test_opposite_word_against_the_key(grader):
    g = grade(grader, "What did Polyansky say happened to the missiles?", "They stayed in Cuba.", "withdrawn")
    assert g.verdict == "incorrect"
    assert "contradicts: answer says stayed, key says withdrawn" in g.reasons


def test_different_name_against_the_key(grader):
    g = grade(grader, "Which country did Rusk name as one of those countries?", "Italy", "England")
    assert g.verdict == "incorrect"
    assert "names differ: answer says Italy, key says England" in g.reasons
    assert "England" in g.evidence.quote  # the quote that shows the key is right


# -- partial coverage ------------------------------------------------------------------------------


def test_partial_coverage_of_the_key(grader):
    q = "What did Polyansky say was withdrawn from Cuba?"
    key = "the missiles and most of our troops"
    full = grade(grader, q, "The missiles and most of the troops.", key)
    part = grade(grader, q, "The missiles.", key)
    assert full.verdict == "correct"
    assert part.verdict == "partial"
    assert part.reasons == ["covers only part of the key: missing troops"]
    assert part.score < full.score
    assert "withdrawn from Cuba" in part.evidence.quote


# -- no key: the archive is the key ----------------------------------------------------------------


def test_no_key_grading_quotes_the_archive(grader):
    q = "What did Rusk compare the US interest in Cuba to?"
    right = grade(grader, q, "The Soviet interest in Hungary in 1956.")
    assert right.verdict == "correct" and right.reasons == ["supported by the archive"]
    assert "Hungary in 1956" in right.evidence.quote
    assert right.evidence.doc == TELEGRAM and right.evidence.date == "1962-10-20"
    assert_verbatim(right)
    invented = grade(grader, "What did Khrushchev say should be signed with Cuba?", "A trade agreement.")
    assert invented.verdict == "incorrect"
    assert invented.reasons[0].startswith("not supported by the archive")
    assert "mutual assistance treaty" in invented.evidence.quote  # what the archive does say


def test_unsupported_name_is_not_rescued_by_a_similar_one(grader):
    g = grade(grader, "What did Rusk compare the US interest in Cuba to?", "The Soviet interest in Poland.")
    assert g.verdict != "correct"
    assert any("Poland" in r for r in g.reasons)


def test_non_answers_are_incorrect(grader):
    for answer in ("", "I don't know", "idk"):
        g = grade(grader, "How long did the conversation with Rusk last?", answer)
        assert g.verdict == "incorrect" and g.score == 0.0
        assert g.reasons in (["no answer given"], ["not an answer"])
    # "Yes" is somewhere in any archive, but it claims nothing a passage could back.
    for answer in ("Yes", "It is."):
        g = grade(grader, "How long did the conversation with Rusk last?", answer)
        assert g.verdict == "incorrect"
        assert g.reasons == ["not supported by the archive: the answer says nothing beyond the question"]


def test_features_match_the_committed_model():
    model = GraderModel.load()
    assert model.meta["trained_on"].startswith("SemEval-2013 Beetle train")
    assert model.coef.shape == (len(model.classes), len(model.features))
    # Beetle's five labels, each standing for one of the three verdicts.
    assert len(model.classes) == 5 and sorted(set(model.verdict_of.values())) == ["correct", "incorrect", "partial"]
    assert model.verdict_of["contradictory"] == model.verdict_of["non_domain"] == "incorrect"


def _weights(path, classes, intercept, verdict_of=None):
    from qa.grade import FEATURES

    raw = {"features": list(FEATURES), "classes": classes, "mean": [0.0] * len(FEATURES), "scale": [1.0] * len(FEATURES),
           "coef": [[0.0] * len(FEATURES) for _ in classes], "intercept": intercept}
    if verdict_of is not None:
        raw["verdict_of"] = verdict_of
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


def test_fine_classes_are_summed_into_verdicts(tmp_path):
    import math

    from qa.grade import FEATURES, expected_credit

    classes = ["correct", "partially_correct_incomplete", "contradictory", "irrelevant", "non_domain"]
    verdict_of = {"correct": "correct", "partially_correct_incomplete": "partial", "contradictory": "incorrect",
                  "irrelevant": "incorrect", "non_domain": "incorrect"}
    model = GraderModel.load(_weights(tmp_path / "g.json", classes, [math.log(4), math.log(2), 0.0, 0.0, 0.0], verdict_of))
    p = model.proba(np.zeros(len(FEATURES)))
    # exp: 4, 2, 1, 1, 1 -> correct 4/9, partial 2/9, incorrect 3/9 (three incorrect kinds add up).
    assert p == pytest.approx({"correct": 4 / 9, "partial": 2 / 9, "incorrect": 3 / 9})
    assert expected_credit(p) == pytest.approx(5 / 9)


def test_three_class_weights_still_load_and_inconsistent_ones_are_refused(tmp_path):
    from qa.grade import GraderWeightsMissing

    old = GraderModel.load(_weights(tmp_path / "old.json", ["correct", "incorrect", "partial"], [0.0, 0.0, 0.0]))
    assert old.verdict_of == {"correct": "correct", "incorrect": "incorrect", "partial": "partial"}
    with pytest.raises(GraderWeightsMissing):  # no class stands for "partial"
        GraderModel.load(_weights(tmp_path / "bad.json", ["correct", "wrong"], [0.0, 0.0], {"correct": "correct", "wrong": "incorrect"}))
    with pytest.raises(GraderWeightsMissing):  # not an object at all
        (tmp_path / "list.json").write_text("[1, 2]", encoding="utf-8")
        GraderModel.load(tmp_path / "list.json")


def test_compare_finds_typos_and_missing_words(encoder):
    from qa.grade import TextVectors

    tv = TextVectors(encoder)
    c = compare("Why?", "termnial 1 is seperated from the battery", "terminal 1 is separated by a gap from the battery", tv)
    assert c.features["rec"] == pytest.approx(4 / 5)  # terminal, 1, separated, battery found despite typos; gap missing
    assert c.missing == ["gap"]


# -- reading quizzes -------------------------------------------------------------------------------


def test_csv_with_bom_crlf_quotes_and_extra_columns(tmp_path):
    p = tmp_path / "quiz.csv"
    p.write_bytes(
        "\ufeffID,Student,Question,Answer,Key,class\r\n"
        '1,ana,Who?,"Rusk, Dean",Rusk,7b\r\n'
        '2,ben,When?,"line one\r\nline two",,7b\r\n'.encode("utf-8")
    )
    rows = list(read_rows(p))
    assert [type(r) for r in rows] == [QuizRow, QuizRow]
    a, b = rows
    assert (a.id, a.student, a.question, a.answer, a.reference, a.extra) == ("1", "ana", "Who?", "Rusk, Dean", "Rusk", {"class": "7b"})
    assert b.answer == "line one\r\nline two" and b.reference == "" and b.line == 3


def test_bad_rows_become_errors_and_the_rest_continue(tmp_path):
    p = tmp_path / "quiz.csv"
    p.write_text(
        "question,answer\n"
        "Who met Rusk?,Gromyko\n"
        ",no question here\n"
        "Too,many,fields\n"
        "What\x1b[2J?,control characters\n"
        "Who else?,fine\n",
        encoding="utf-8",
    )
    rows = list(read_rows(p))
    kinds = [type(r).__name__ for r in rows]
    assert kinds == ["QuizRow", "RowError", "RowError", "RowError", "QuizRow"]
    assert "empty" in rows[1].error and "3 fields" in rows[2].error and "control" in rows[3].error
    assert [r.line for r in rows] == [2, 3, 4, 5, 6]


def test_jsonl_rows(tmp_path):
    p = tmp_path / "quiz.jsonl"
    p.write_text(
        '{"question": "Who met Rusk?", "answer": "Gromyko", "score_before": 3}\n'
        "not json\n"
        '["a", "list"]\n'
        '{"question": "Who?"}\n'
        "\n"
        '{"question": "When?", "answer": 1962}\n',
        encoding="utf-8",
    )
    rows = list(read_rows(p))
    assert isinstance(rows[0], QuizRow) and rows[0].extra == {"score_before": 3}
    assert [type(r).__name__ for r in rows[1:4]] == ["RowError"] * 3
    assert "invalid JSON" in rows[1].error and "object" in rows[2].error and "answer" in rows[3].error
    assert rows[4].answer == "1962" and rows[4].line == 6


@pytest.mark.parametrize(
    "content, message",
    [(b"", "empty"), (b"name,reply\nx,y\n", "no question or answer column"), (b"\x00\x01\x02binary", "binary"),
     (b"question,answer\n\xff\xfe,x\n", "not UTF-8")],
)
def test_unusable_files_raise(tmp_path, content, message):
    p = tmp_path / "quiz.csv"
    p.write_bytes(content)
    with pytest.raises(QuizFileError, match=message):
        list(read_rows(p))


# -- output ----------------------------------------------------------------------------------------


def test_csv_writer_flushes_each_row_and_keeps_input_columns(grader):
    out = io.StringIO()
    w = Writer(out, "csv", ["id", "question", "answer", "expected"])
    g = grade(grader, "How long did the conversation with Rusk last?", "About two hours.")
    w.write(g)
    w.write(next(grader.grade_many([RowError(4, "no question", {"answer": "x"})])))
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(rows[0])[:4] == ["id", "question", "answer", "expected"]
    assert rows[0]["verdict"] == "correct" and rows[0]["evidence_doc"] == TELEGRAM
    assert rows[0]["reasons"] == "supported by the archive"
    assert rows[1]["error"] == "no question" and rows[1]["verdict"] == ""


def test_markdown_report_per_student(grader):
    q = "How long did the conversation with Rusk last?"
    grades = list(
        grader.grade_many([QuizRow(2, q, "About two hours.", student="ana"), QuizRow(3, q, "About six hours.", student="ben"),
                           RowError(4, "no answer field")])
    )
    md = markdown_report(grades, "quiz.csv")
    assert md.startswith("# Quiz results: quiz.csv")
    assert "| correct | 1 | 50% |" in md and "| incorrect | 1 | 50% |" in md
    assert "### Hardest questions" in md and "## ana" in md and "## ben" in md
    assert "> — Telegram from Soviet Foreign Minister Gromyko to the CC CPSU, 1962-10-20" in md
    assert "| 4 | no answer field |" in md


# -- the command -----------------------------------------------------------------------------------


def test_cli_grades_csv_to_jsonl_with_bad_rows(tmp_path, seeds_index, capsys):
    quiz = tmp_path / "quiz.csv"
    quiz.write_text(
        "id,question,answer,reference\n"
        "1,How long did the conversation with Rusk last?,About two hours.,\n"
        "2,,missing question,\n"
        "3,Which country did Rusk name as one of those countries?,Italy,England\n",
        encoding="utf-8",
    )
    out = tmp_path / "graded.jsonl"
    rc = main(["grade", str(quiz), "-o", str(out), "--corpus", str(SEEDS), "--index", str(seeds_index)])
    assert rc == 1  # one row failed, the others were graded
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["verdict"] == "correct" and rows[0]["evidence_doc"] == TELEGRAM
    assert rows[1]["error"] and rows[1]["verdict"] is None
    assert rows[2]["verdict"] == "incorrect" and rows[2]["reasons"] == ["names differ: answer says Italy, key says England"]
    err = capsys.readouterr().err
    assert "graded 2 answers" in err and "1 rows with errors" in err


@pytest.mark.parametrize("make, message", [(lambda d: d / "missing.csv", "no such file"), (lambda d: d, "folder")])
def test_cli_unusable_input_exit_2(tmp_path, make, message, capsys):
    assert main(["grade", str(make(tmp_path)), "--corpus", str(SEEDS)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_cli_rejects_unknown_output_suffix(tmp_path, capsys):
    quiz = tmp_path / "q.csv"
    quiz.write_text("question,answer\nWho?,Rusk\n", encoding="utf-8")
    assert main(["grade", str(quiz), "-o", str(tmp_path / "out.txt"), "--corpus", str(SEEDS)]) == 2
    assert "--format" in capsys.readouterr().err


def test_seed_quiz_accuracy(shared, tmp_path, seeds_index):
    """Our own quiz on the seeds, graded end to end; the dev quiz's scorer is reused when present."""
    import subprocess
    import sys

    from .conftest import DATA

    out = tmp_path / "graded.csv"
    assert main(["grade", str(DATA / "quiz_seeds.csv"), "-o", str(out), "--corpus", str(SEEDS), "--index", str(seeds_index)]) == 0
    proc = subprocess.run([sys.executable, str(shared / "eval" / "score_quiz.py"), str(DATA / "quiz_seeds.csv"), str(out), "--json"],
                          capture_output=True, text=True, check=True)
    m = json.loads(proc.stdout)
    assert m["missing"] == 0 and m["accuracy"] >= 0.85 and m["qwk"] >= 0.8
