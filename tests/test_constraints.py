"""Constraints on documents: read from questions, given as options, applied by the engine."""
from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest

from qa.constraints import NO, UNKNOWN, YES, BadConstraint, Constraints, describe_json
from qa.types import DocumentMeta

from .conftest import DATA, SEEDS, TELEGRAM
from .test_cli import run_qa

SYNTHETIC = DATA / "constraints"
PEOPLE = {"alder", "brandt", "gromyko", "rusk"}


def D(s: str) -> dt.date:
    return dt.date.fromisoformat(s)


# -- reading questions ---------------------------------------------------------------------------
def test_full_date_is_one_day_and_its_words_are_marked():
    q = "In the note of 14 February 1959, what did the envoy ask for?"
    c = Constraints.from_question(q, PEOPLE)
    assert (c.date_from, c.date_to) == (D("1959-02-14"), D("1959-02-14"))
    assert c.exact_day()
    assert "note" in c.kinds
    assert any(q[s:e] == "14 February 1959" for s, e in c.spans)


def test_month_year_and_bare_year_are_periods():
    c = Constraints.from_question("What was decided about grain in September 1958?", PEOPLE)
    assert (c.date_from, c.date_to) == (D("1958-09-01"), D("1958-09-30"))
    assert not c.exact_day()
    c = Constraints.from_question("What did the ministers discuss in 1957?", PEOPLE)
    assert (c.date_from, c.date_to) == (D("1957-01-01"), D("1957-12-31"))


def test_before_after_and_between():
    c = Constraints.from_question("What did Alder say about tariffs before May 2, 1960?", PEOPLE)
    assert (c.date_from, c.date_to) == (None, D("1960-05-01"))
    c = Constraints.from_question("What happened to the harbour after 1958?", PEOPLE)
    assert (c.date_from, c.date_to) == (D("1959-01-01"), None)
    c = Constraints.from_question("What was written between March 1960 and July 1960?", PEOPLE)
    assert (c.date_from, c.date_to) == (D("1960-03-01"), D("1960-07-31"))


def test_day_without_year_and_only_the_first_date_names_the_document():
    c = Constraints.from_question("At the dinner on August 5, what did Brandt promise?", PEOPLE)
    assert c.month_day == (8, 5) and c.date_from is None
    q = "In the cable of May 3, 1960, what did the consul say had happened on 28 April?"
    c = Constraints.from_question(q, PEOPLE)
    assert (c.date_from, c.date_to, c.month_day) == (D("1960-05-03"), D("1960-05-03"), None)
    assert not any("28 April" in q[s:e] for s, e in c.spans)  # the event's date stays a topic word


def test_times_and_numbers_are_not_dates():
    c = Constraints.from_question("How many ships sailed at 10:45 on the morning of the crisis, and were 1500 men aboard?", PEOPLE)
    assert not (c.date_from or c.date_to or c.month_day)


def test_kinds():
    cases = {
        "What does the memorandum of conversation say about oil?": "memorandum of conversation",
        "In his telegram, what did the consul report about riots?": "telegram",
        "What did Brandt's letter say about the border?": "letter",
        "According to the editorial note, when did the talks begin?": "editorial note",
    }
    for q, kind in cases.items():
        c = Constraints.from_question(q, PEOPLE)
        assert c.kinds and c.kinds[0] == kind, (q, c.kinds)
    # "memorandum of conversation" is one kind, not also a "memorandum"
    assert Constraints.from_question("In the memorandum of conversation, who spoke?", PEOPLE).kinds == ["memorandum of conversation"]
    # a verb is no kind
    assert Constraints.from_question("Did Rusk note any change in July?", PEOPLE).kinds == []


def test_authors_and_recipients_only_when_the_archive_knows_them():
    c = Constraints.from_question("What did Alder's reply to Brandt say about the fleets?", PEOPLE)
    assert c.authors == ["Alder"] and c.recipients == ["Brandt"] and "reply" in c.kinds
    c = Constraints.from_question("What did Brandt write about the catch?", PEOPLE)
    assert c.authors == ["Brandt"]
    c = Constraints.from_question("What did Zelinski write about the catch?", PEOPLE)
    assert c.authors == []  # nobody of that name in the archive
    c = Constraints.from_question("What did his reply say about the catch?", PEOPLE)
    assert c.authors == [] and c.kinds == ["reply"]  # no antecedent: only the kind


# -- explicit options --------------------------------------------------------------------------------
def test_explicit_options_and_bad_values():
    c = Constraints.explicit_options("1961", "1961-06", ["Alder"], [], ["Letter"])
    assert (c.date_from, c.date_to) == (D("1961-01-01"), D("1961-06-30"))
    assert c.kinds == ["letter"] and c.explicit == {"date", "authors", "kinds"}
    for args, message in (
        (("1961-13", None), "no month 13"),
        (("1961-02-30", None), "no day 30"),
        (("June 1961", None), "is not a date"),
        (("1962", "1961"), "is after"),
    ):
        with pytest.raises(BadConstraint, match=message):
            Constraints.explicit_options(*args)
    with pytest.raises(BadConstraint, match="not a document kind"):
        Constraints.explicit_options(kinds=["postcard"])
    with pytest.raises(BadConstraint, match="empty"):
        Constraints.explicit_options(authors=[" "])


def test_merge_lets_explicit_fields_replace_the_questions():
    asked = Constraints.from_question("What did Brandt write in May 1960 about the catch?", PEOPLE)
    merged = asked.merge(Constraints.explicit_options(date_from="1961-01-01"))
    assert merged.date_from == D("1961-01-01") and merged.date_to is None
    assert merged.authors == ["Brandt"] and merged.explicit == {"date"}


# -- matching documents --------------------------------------------------------------------------------
def test_matches_documents():
    letter = DocumentMeta(title="Letter", date="1961-03-03", kind="letter",
                          authors=[{"name": "John Alder", "role": "President", "text": "President Alder"}],
                          recipients=[{"name": "Brandt", "role": "Chairman", "text": "Chairman Brandt"}])
    undated = DocumentMeta(title="Note", kind="note")
    month = DocumentMeta(title="Report", date="1961-03", kind="report")
    c = Constraints(date_from=D("1961-03-03"), date_to=D("1961-03-03"))
    assert c.matches(letter) == YES and c.matches(undated) == UNKNOWN and c.matches(month) == UNKNOWN
    assert Constraints(month_day=(3, 4)).matches(letter) == NO
    assert Constraints(authors=["Alder"]).matches(letter) == YES
    assert Constraints(authors=["Brandt"]).matches(letter) == NO
    assert Constraints(recipients=["the Chairman"]).matches(letter) == YES
    assert Constraints(authors=["Alder"]).matches(undated) == UNKNOWN
    assert Constraints(kinds=["reply"]).matches(letter) == YES
    assert Constraints(kinds=["telegram"]).matches(letter) == NO
    assert Constraints(kinds=["letter"], date_from=D("1962-01-01")).matches(letter) == NO


def test_json_and_description_round_trip():
    c = Constraints.from_question("What did Brandt write on June 9 about the catch?", PEOPLE)
    obj = c.to_json()
    assert obj["day"] == "--06-09" and obj["authors"] == ["Brandt"] and obj["explicit"] == []
    assert describe_json(obj) == c.describe() == "dated June 9; by Brandt"


# -- the engine --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def synthetic(tmp_path_factory, encoder):
    from qa.engine import Archive

    root = tmp_path_factory.mktemp("constraints")
    corpus = root / "corpus"
    shutil.copytree(SYNTHETIC, corpus)
    return Archive.open(corpus, root / "index", encoder=encoder, log=lambda m: None)


def _first(answer):
    return (answer.answers or answer.closest)[0]


def test_the_dated_letter_is_chosen_among_two_on_one_topic(synthetic):
    docs = {d.doc: d.meta for d in synthetic.documents}
    assert docs["001_letter-march.txt"].date == "1961-03-03" and docs["002_letter-june.txt"].date == "1961-06-09"
    a = synthetic.ask("In the letter of June 9, 1961, what was proposed about the boats?")
    assert _first(a).doc == "002_letter-june.txt"
    assert a.constraints["from"] == a.constraints["to"] == "1961-06-09"
    a = synthetic.ask("In the letter of March 3, what was proposed about the catch?")
    assert _first(a).doc == "001_letter-march.txt"


def test_the_author_named_in_the_question_is_preferred(synthetic):
    # Both letters hold the same sentence about the fleets: only the author tells them apart.
    a = synthetic.ask("What did Brandt write about the fleets quarrelling?")
    assert a.constraints["authors"] == ["Brandt"]
    assert _first(a).doc == "002_letter-june.txt" and "fleets" in _first(a).quote
    a = synthetic.ask("What did Alder's letter say about the fleets quarrelling?")
    assert a.constraints["authors"] == ["Alder"]
    assert _first(a).doc == "001_letter-march.txt" and "fleets" in _first(a).quote


def test_explicit_constraints_filter(synthetic):
    q = "What was proposed about the boats?"
    for cons, doc in (
        (Constraints.explicit_options(date_from="1961-04", date_to="1961-06"), "002_letter-june.txt"),
        (Constraints.explicit_options(date_to="1961-03"), "001_letter-march.txt"),
        (Constraints.explicit_options(recipients=["Alder"]), "002_letter-june.txt"),
        (Constraints.explicit_options(kinds=["memorandum of conversation"]), "003_memo.txt"),
    ):
        a = synthetic.ask(q, constraints=cons)
        cited = {x.doc for x in a.answers + a.closest}
        assert cited == {doc}, (cons.describe(), cited)
    a = synthetic.ask(q, constraints=Constraints.explicit_options(date_from="1970"))
    assert a.abstained and not a.answers and not a.closest
    assert a.constraints["explicit"] == ["date"]


def test_standing_filter_applies_to_every_question(synthetic):
    synthetic.filter = Constraints.explicit_options(authors=["Brandt"])
    try:
        for q in ("What was proposed about the boats?", "What about the fleets?"):
            assert {x.doc for x in synthetic.ask(q).answers + synthetic.ask(q).closest} == {"002_letter-june.txt"}
    finally:
        synthetic.filter = None


def test_seeds_date_in_question_is_not_answered_by_the_dateline(archive):
    a = archive.ask("In the telegram of October 20, 1962, what did Rusk say about July?")
    top = _first(a)
    assert top.doc == TELEGRAM and top.section == "body" and "July" in top.quote
    assert a.to_json()["constraints"]["kinds"] == ["telegram"]


# -- the command line ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "options, message",
    [
        (["--from", "1961-13"], "no month 13"),
        (["--to", "yesterday"], "is not a date"),
        (["--from", "1964", "--to", "1962"], "is after"),
        (["--kind", "postcard"], "not a document kind"),
    ],
)
def test_bad_option_values_exit_2_with_a_message(options, message, tmp_path):
    proc = run_qa("ask", "What about July?", *options, "--corpus", str(SEEDS), "--index", str(tmp_path / "i"))
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert not (tmp_path / "i").exists()  # refused before any work
    questions = tmp_path / "q.txt"
    questions.write_text("What about July?\n", "utf-8")
    out = tmp_path / "out.jsonl"
    proc = run_qa("batch", str(questions), "-o", str(out), *options, "--corpus", str(SEEDS), "--index", str(tmp_path / "i"))
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert not out.exists()


def test_ask_and_batch_options_restrict_documents(seeds_index, tmp_path):
    proc = run_qa("ask", "What was said about Cuba?", "--json", "--from", "1964", "--kind", "report",
                  "--corpus", str(SEEDS), "--index", str(seeds_index))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    cited = {a["doc"] for a in out["answers"] + out.get("closest", [])}
    assert cited == {"000_96c424edd7d3daf7.txt"}
    assert out["constraints"]["from"] == "1964-01-01" and out["constraints"]["kinds"] == ["report"]
    assert sorted(out["constraints"]["explicit"]) == ["date", "kinds"]
    proc = run_qa("ask", "What was said about Cuba?", "--author", "Gromyko", "--corpus", str(SEEDS), "--index", str(seeds_index))
    assert proc.returncode == 0 and "Documents: by Gromyko" in proc.stdout, proc.stdout

    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": "a", "question": "What was said about Cuba?"}\n'
                         '{"id": "b", "conversation": "c", "question": "What did Rusk say about Cuba?"}\n', "utf-8")
    out = tmp_path / "out.jsonl"
    proc = run_qa("batch", str(questions), "-o", str(out), "--to", "1962-12-31",
                  "--corpus", str(SEEDS), "--index", str(seeds_index))
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert len(rows) == 2
    for row in rows:
        assert {a["doc"] for a in row["answers"] + row.get("closest", [])} <= {TELEGRAM}
        assert row["constraints"]["to"] == "1962-12-31"


# -- the TUI --------------------------------------------------------------------------------------------
def test_filter_text_reads_like_the_options():
    from qa.constraints import parse_filter

    c = parse_filter("from:1961-04 to:1961-06 author:John Alder kind:memorandum of conversation")
    assert (c.date_from, c.date_to) == (D("1961-04-01"), D("1961-06-30"))
    assert c.authors == ["John Alder"] and c.kinds == ["memorandum of conversation"]
    assert not parse_filter("  ")
    for bad, message in (("from:1961-13", "no month 13"), ("size:3", "unknown filter"), ("hello", "cannot read"),
                         ("author:", "needs a value"), ("to:1961 to:1962", "given twice")):
        with pytest.raises(BadConstraint, match=message):
            parse_filter(bad)


async def test_tui_filter_box_restricts_every_question_and_ctrl_r_clears_it(seeds_index, encoder, tmp_path):
    from qa.tui.app import QaApp
    from qa.tui.screens import FilterScreen

    from .tui_support import JULY_QUESTION, ask, settle

    app = QaApp(SEEDS, seeds_index, encoder=encoder, export_dir=tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+f")
        await pilot.pause()
        assert isinstance(app.screen, FilterScreen)
        await pilot.press(*"from:1961-13", "enter")
        await pilot.pause()
        assert isinstance(app.screen, FilterScreen)  # refused, the reason shown, nothing applied
        assert "no month 13" in str(app.screen.query_one("#filter-error").render())
        assert app.archive.filter is None
        box = app.screen.query_one("#filter-input")
        box.value = ""
        await pilot.press(*"from:1964 kind:report", "enter")
        await pilot.pause()
        assert not isinstance(app.screen, FilterScreen)
        bar = app.query_one("#filter-bar")
        assert bar.has_class("-active") and "dated 1964-01-01" in str(bar.render())

        await ask(pilot, JULY_QUESTION)
        turn = app.turns[-1]
        assert turn.extracts and {e.doc for e in turn.extracts} == {"000_96c424edd7d3daf7.txt"}
        assert "Documents: dated 1964-01-01" in " ".join(str(w.render()) for w in turn.query(".interpreted"))

        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.archive.filter is None and not bar.has_class("-active")
        await ask(pilot, JULY_QUESTION)
        assert TELEGRAM in {e.doc for e in app.turns[-1].extracts}


async def test_tui_filter_text_is_never_read_as_markup(seeds_index, encoder, tmp_path):
    from qa.tui.app import QaApp

    from .tui_support import settle

    app = QaApp(SEEDS, seeds_index, encoder=encoder, export_dir=tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+f")
        await pilot.pause()
        await pilot.press(*"author:[/x]", "enter")
        await pilot.pause()
        bar = app.query_one("#filter-bar")
        assert bar.has_class("-active") and "[/x]" in str(bar.render())
    assert app.return_code in (0, None)
