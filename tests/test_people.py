"""People: full names, surnames two people share, titled mentions (synthetic documents)."""
from qa.documents import corpus_files, load_document
from qa.people import archive_people
from qa.passages import split_document
from qa.speakers import archive_titles, attribute_speakers

BRIEFING = """Memorandum for the Record

Washington, March 3, 1962.

Attorney General Robert Kennedy met the Soviet Ambassador this morning. The Attorney General said that the talks on the treaty must go on.

Later President John F. Kennedy received Ambassador Dobrynin at the White House. The President said that the blockade would stay in force.
"""

CABINET = """Memorandum of Conversation

Washington, March 9, 1962.

President Kennedy opened the meeting. The President said that the missiles had to go.

Attorney General Kennedy reported on his talk with the Ambassador. The Attorney General said that the Ambassador had promised an answer within a day.

Secretary Dean Rusk said that the allies had been informed.
"""

STATE = """Telegram From the Department of State

Washington, March 12, 1962.

Secretary Rusk told the Ambassador that the question of the bases was closed. Rusk said that he would report to the President.
"""


def _corpus(tmp_path):
    for name, text in (("a.txt", BRIEFING), ("b.txt", CABINET), ("c.txt", STATE)):
        (tmp_path / name).write_text(text, encoding="utf-8")
    return [load_document(tmp_path, p) for p in corpus_files(tmp_path)]


def _speakers(doc, people, titles=None):
    sentences, _ = split_document(doc)
    attribute_speakers(doc, sentences, {}, titles, people)
    return {doc.text[s.start:s.end]: s.speaker for s in sentences}


def test_two_people_of_one_surname_stay_two(tmp_path):
    docs = _corpus(tmp_path)
    people = archive_people(docs, {})
    kennedys = {p["name"] for p in people["Kennedy"]}
    assert kennedys == {"John F. Kennedy", "Robert Kennedy"}
    # one person with several spellings stays one, under the full name the archive gives
    assert [p["name"] for p in people["Rusk"]] == ["Dean Rusk"]


def test_titles_and_full_names_resolve_to_the_right_kennedy(tmp_path):
    docs = _corpus(tmp_path)
    people = archive_people(docs, {})
    titles = archive_titles(docs, {}, people)
    got = _speakers(docs[0], people, titles)
    assert got["The Attorney General said that the talks on the treaty must go on."] == "Robert Kennedy"
    assert got["The President said that the blockade would stay in force."] == "John F. Kennedy"
    got = _speakers(docs[1], people, titles)
    # titled mentions without a first name ("Attorney General Kennedy") go to the title's holder
    assert got["The President said that the missiles had to go."] == "John F. Kennedy"
    assert got["The Attorney General said that the Ambassador had promised an answer within a day."] == "Robert Kennedy"
    assert got["Secretary Dean Rusk said that the allies had been informed."] == "Dean Rusk"
    got = _speakers(docs[2], people, titles)
    assert got["Rusk said that he would report to the President."] == "Dean Rusk"


def test_without_the_people_table_speakers_are_surnames(tmp_path):
    docs = _corpus(tmp_path)
    got = _speakers(docs[2], None)
    assert got["Rusk said that he would report to the President."] == "Rusk"


def test_a_word_the_archive_writes_in_lowercase_is_no_first_name(tmp_path):
    (tmp_path / "d.txt").write_text(
        "Note\n\nMoscow, May 2, 1962.\n\nThe visit of Foreign Minister Gromyko was foreign news to nobody. "
        "Foreign Minister Gromyko said that the visit went well.\n", encoding="utf-8")
    docs = [load_document(tmp_path, p) for p in corpus_files(tmp_path)]
    people = archive_people(docs, {})
    assert "Gromyko" not in people or all(p["name"] != "Foreign Minister Gromyko" for p in people["Gromyko"])


def test_questions_match_the_person_not_the_string(tmp_path, encoder):
    from qa.engine import Archive
    from qa.index import build

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _corpus(corpus)
    build(corpus, tmp_path / "idx", encoder)
    arch = Archive.open(corpus, tmp_path / "idx", encoder=encoder, log=lambda m: None)
    assert arch.frame("What did Robert Kennedy say about the treaty?").speakers == ["Robert Kennedy"]
    assert arch.frame("What did John Kennedy say about the blockade?").speakers == ["John F. Kennedy"]
    # a bare surname two people share is both of them
    assert set(arch.frame("What did Kennedy say about the missiles?").speakers) == {"John F. Kennedy", "Robert Kennedy"}
    assert arch.frame("What did Rusk say about the bases?").speakers == ["Dean Rusk"]
    got = arch.ask("What did Robert Kennedy say about the talks on the treaty?")
    assert got.answers and all(a.speaker == "Robert Kennedy" for a in got.answers)
