"""Tests for qa.segment: one test per boundary rule, on real snippets from the seed documents."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.segment import (
    MAX_SENTENCE_CHARS,
    SEGMENTER_VERSION,
    line_of,
    line_starts,
    paragraph_starts,
    split_sentences,
)

SEEDS = Path(__file__).parents[1] / "seeds"


def _seed(name: str) -> str:
    return (SEEDS / name).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def seed000() -> str:
    return _seed("000_96c424edd7d3daf7.txt")


@pytest.fixture(scope="module")
def seed004() -> str:
    return _seed("004_e7fbc198e1c2cf16.txt")


def sents(text: str, start: int = 0, end: int | None = None) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text, start, end)]


def containing(text: str, needle: str) -> str:
    """The single sentence whose span contains the first occurrence of `needle`."""
    i = text.index(needle)
    hits = [text[s:e] for s, e in split_sentences(text) if s <= i and i + len(needle) <= e]
    assert len(hits) == 1, f"{needle!r} is split across sentences"
    return hits[0]


def test_version_is_a_string():
    assert isinstance(SEGMENTER_VERSION, str) and SEGMENTER_VERSION


# --- Rule 1: terminal punctuation, closing quotes belong to the sentence -------------------------


def test_rule1_terminal_marks_and_closing_quote():
    text = (
        'It is characteristic that Rusk, during our entire conversation with Kennedy, sat '
        'absolutely silently, and red "like a crab." In the conversation with him later he '
        "couldn't hide his feelings very well."
    )
    assert sents(text) == [
        'It is characteristic that Rusk, during our entire conversation with Kennedy, sat '
        'absolutely silently, and red "like a crab."',
        "In the conversation with him later he couldn't hide his feelings very well.",
    ]
    assert sents('He asked what is going on there and why did the argument arise? I said, that') == [
        "He asked what is going on there and why did the argument arise?",
        "I said, that",
    ]
    assert sents("Stop! Wait… Really?! (Yes.) 1962 was long ago.") == [
        "Stop!",
        "Wait…",
        "Really?!",
        "(Yes.)",
        "1962 was long ago.",
    ]
    # A question mark inside a quote followed by lowercase does not end the sentence.
    assert sents('"Why?" he asked.') == ['"Why?" he asked.']


def test_rule1_quoted_speech_final_quote_belongs_to_last_sentence():
    text = (
        "Recently he said the following to the members of the CC Presidium: “We should sign a "
        "mutual assistance treaty with Cuba. They will scream that it is a reckless action. To "
        "hell with them, let them scream.”"
    )
    out = sents(text)
    assert out == [
        "Recently he said the following to the members of the CC Presidium: “We should sign a "
        "mutual assistance treaty with Cuba.",
        "They will scream that it is a reckless action.",
        "To hell with them, let them scream.”",
    ]
    # Mid-text as well: the closing quote stays with its sentence, the opener with the next.
    text2 = "“To hell with them, let them scream.” “Yes.” He left."
    assert sents(text2) == ["“To hell with them, let them scream.”", "“Yes.”", "He left."]


# --- Rule 2: abbreviations ---------------------------------------------------------------------


def test_rule2_abbreviations_in_seed_sentences(seed000, seed004):
    assert containing(seed004, "U.S. Government data") == (
        "So far it seems, according to U.S. Government data, that these are defensive weapons."
    )
    assert containing(seed004, "like other U.S. officials").startswith(
        "No doubt Rusk, like other U.S. officials, will not deny a great historical fact:"
    )
    assert containing(seed004, "N.S. Khrushchev") == (
        "You know, I declared to Rusk, that our CC and the Soviet government, at the initiative of "
        "N.S. Khrushchev, have taken a number of foreign policy steps which earlier had not been "
        "taken."
    )
    assert containing(seed000, "Cde. Khrushchev stated") == (
        "Cde. Khrushchev stated that Stalin was not able to penetrate Latin America, but he "
        "succeeded."
    )
    assert containing(seed004, "Mark H. Doctoroff").endswith(
        "translation by Mark H. Doctoroff <https://digitalarchive.umd.edu/document/111779>"
    )


@pytest.mark.parametrize(
    "text",
    [
        "He met Mr. Rusk and Mrs. Kennedy.",
        "Dr. Smith went to St. Petersburg.",
        "He spoke with Gen. Pliyev, Col. Ivanov and Lt. Petrov.",
        "Sen. Keating and Rep. Smith met Gov. Brown and Prof. Jones.",
        "He said, i.e. Khrushchev said, no.",
        "Some states, e.g. Turkey, have bases.",
        "Bombers, missiles, etc. were discussed.",
        "Kennedy vs. Khrushchev was the headline.",
        "See document No. 5 in the file.",
        "The telegram of Oct. 20 and Jan. 5 arrived.",
        "He met N. Khrushchev in Vienna.",
        "The U.S. Army and the U.N. Security Council acted.",
        "The U.S.S.R. Government protested.",
        "The U.S. 7th Fleet sailed.",
        "Acme Inc. was founded by John Smith Jr. in 1950.",
    ],
)
def test_rule2_abbreviation_does_not_split(text):
    assert sents(text) == [text]


def test_rule2_acronym_at_real_sentence_end_splits():
    assert sents("Missiles were sent to the U.S. The next day Rusk called.") == [
        "Missiles were sent to the U.S.",
        "The next day Rusk called.",
    ]
    assert sents("He flew to the U.S.S.R. Khrushchev met him.") == [
        "He flew to the U.S.S.R.",
        "Khrushchev met him.",
    ]
    assert sents("Bombers, missiles, etc. The list was long.") == [
        "Bombers, missiles, etc.",
        "The list was long.",
    ]
    assert sents("It was No. Then he left.") == ["It was No.", "Then he left."]


# --- Rule 3: dashes --------------------------------------------------------------------------------


def test_rule3_em_dash_never_ends_a_sentence(seed000, seed004):
    snippet = (
        "Missiles will not work in such a case — they would only burn a country we want to help "
        "— that’s all."
    )
    assert sents(snippet) == [snippet]
    assert containing(seed000, "they would only burn") == snippet
    assert containing(seed004, "bases--this is a subject") == (
        "To this statement I answered in such a way, that the USA foreign military bases--this is "
        "a subject which is pretty well known, practically every day American generals and "
        "several ministers speak about it."
    )


# --- Rule 4: brackets ----------------------------------------------------------------------------


def test_rule4_brackets_do_not_split(seed000):
    s1 = (
        "And if we, in order to help one of the Latin American countries, had delivered a first "
        "nuclear strike against the US, not only would we have made ourselves a target of a "
        "[retaliatory] strike, but everybody else would have shunned us."
    )
    s2 = (
        "That [action] led to the deepest of crises, and brought the world to the brink of a "
        "nuclear war; it also scared the organizer of that idea himself greatly."
    )
    assert sents(s1) == [s1]
    assert sents(s2) == [s2]
    assert containing(seed000, "[retaliatory]") == s1
    assert containing(seed000, "That [action]") == s2
    # Editorial elision and query marks are not sentence ends either.
    assert sents("He said [...] Khrushchev agreed (?) Later.") == [
        "He said [...] Khrushchev agreed (?) Later."
    ]


# --- Rule 5: page-break artefacts ------------------------------------------------------------------


@pytest.mark.parametrize(
    "before, after",
    [
        ('Not mentioning the "Monroe Doctrine," he', "essentially tried to defend it."),
        (
            "But the USA has military agreements with those countries which include an obligation "
            "to let these types of American weapons",
            "into the country at any time.",
        ),
        ("Rusk did not", "challenge this declaration."),
        ("But he too, when he spoke about Cuba,", "formulated his ideas with emphasis."),
    ],
)
@pytest.mark.parametrize("gap", ["\n\n", "\n  \n\n", "\r\n\r\n"])
def test_rule5_blank_line_before_lowercase_is_not_a_boundary(before, after, gap):
    text = "Earlier sentence. " + before + gap + after + " Next one."
    assert sents(text) == ["Earlier sentence.", before + gap + after, "Next one."]


def test_rule5_page_breaks_in_real_seed(seed004):
    sentence = containing(seed004, 'Not mentioning the "Monroe Doctrine," he')
    assert "essentially tried to defend it" in sentence
    assert "\n\n" in sentence
    assert "into the country at any time" in containing(seed004, "these types of American weapons")
    assert "challenge this declaration" in containing(seed004, "Rusk did not\n\nchallenge")
    assert "formulated his ideas" in containing(seed004, "when he spoke about Cuba,")


# --- Rule 6: blank line + uppercase is a boundary ----------------------------------------------------


def test_rule6_blank_line_before_uppercase_is_a_boundary(seed000, seed004):
    assert sents(seed000)[:4] == [
        "Search in",
        "Digital Archive International History Declassified",
        "October, 1964",
        "This document was made possible with support from the Leon Levy Foundation",
    ]
    out = sents(seed000)
    assert "English HTML" in out
    assert out[out.index("English HTML") + 1] == "Now on to the Caribbean Crisis."
    out4 = sents(seed004)
    i = out4.index("**Summary:**")
    assert out4[i + 1].startswith("Gromyko relays the results")
    assert out4[out4.index("**Original Language:**") + 1] == "Russian"


# --- Rule 7: bullets -----------------------------------------------------------------------------------


def test_rule7_bullet_lines_are_separate_sentences_without_marker(seed000):
    out = sents(seed000)
    assert "Citation" in out
    assert "get citation" in out  # a new UI string after a bullet line, not a page break
    assert "share document" in out
    text = "Items discussed\n- missiles in Cuba\n* the blockade\n1. Turkey\n2) Berlin\n  • Citation"
    assert sents(text) == [
        "Items discussed",
        "missiles in Cuba",
        "the blockade",
        "Turkey",
        "Berlin",
        "Citation",
    ]
    # The marker is not part of any span.
    for s, e in split_sentences(text):
        assert not re.match(r"[-*•\d]", text[s:e])


def test_rule7_not_bullets():
    # Markdown bold, double hyphens and decimals at a line start are text, not markers.
    text = "**Bold line**\n--dash start\n3.5 million men"
    assert sents(text)[0] == "**Bold line**"
    assert "".join(sents(text)).replace("\n", "") == text.replace("\n", "")


# --- Rule 8: markdown bold lines and hard-wrapped lines -------------------------------------------------


def test_rule8_markdown_bold_lines(seed004):
    out = sents(seed004)
    assert out[:3] == [
        "**October 20, 1962**",
        "**Telegram from Soviet Foreign Minister Gromyko to  \nthe CC CPSU**",
        "**Citation:**",
    ]
    text = "**Summary:**\nGromyko relays the results of a meeting."
    assert sents(text) == ["**Summary:**", "Gromyko relays the results of a meeting."]
    assert sents("# Heading\nBody text here.") == ["# Heading", "Body text here."]


def test_rule8_hard_wrapped_lines_are_not_boundaries():
    text = "The Soviet Union is providing assistance\nto Cuba in only a few areas\nTurkey too."
    assert sents(text) == [text]


# --- Rule 9: numbers, times, ellipsis --------------------------------------------------------------------


def test_rule9_numbers_and_ellipsis():
    assert sents("About 3.5 million men served in 1962. The war ended.") == [
        "About 3.5 million men served in 1962.",
        "The war ended.",
    ]
    assert sents("They met at 10.30 in the morning. Rusk spoke first.") == [
        "They met at 10.30 in the morning.",
        "Rusk spoke first.",
    ]
    assert sents("They met at 10 a.m. Rusk spoke first.") == [
        "They met at 10 a.m.",
        "Rusk spoke first.",
    ]
    assert sents("We should sign... and then wait. Then act.") == [
        "We should sign... and then wait.",
        "Then act.",
    ]
    assert sents("We should sign... Then act.") == ["We should sign...", "Then act."]


# --- Rule 10: length cap ---------------------------------------------------------------------------------


def test_rule10_long_sentences_are_capped():
    clause = "the committee considered the matter at length"
    text = "; ".join([clause] * 60) + "."
    spans = split_sentences(text)
    assert len(spans) > 1
    assert all(e - s <= MAX_SENTENCE_CHARS for s, e in spans)
    assert all(text[s:e].endswith((";", ".")) for s, e in spans)
    assert "".join(text[s:e] for s, e in spans).replace(" ", "") == text.replace(" ", "")

    no_spaces = "x" * 2500
    assert split_sentences(no_spaces) == [(0, 1000), (1000, 2000), (2000, 2500)]

    words = " ".join(["word"] * 600)
    spans = split_sentences(words)
    assert all(e - s <= MAX_SENTENCE_CHARS for s, e in spans)
    assert all(words[s:e].endswith("word") for s, e in spans)


# --- Exact sentences on the real seeds ------------------------------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "The situation has rapidly worsened, declared Rusk, since July of this year.",
        "But from July, Soviet weapons have flowed into Cuba.",
        "July has no significance here.",
        "All the same, declared Rusk, in July some kind of sudden change took place.",
        "As far as Japan is concerned, declared Rusk, I categorically assert that neither "
        "missiles, nor nuclear weapons of the USA are in Japan.",
        "All this is reflected, said Rusk, in the armament program.",
    ],
)
def test_exact_sentences_seed004(seed004, sentence):
    assert sentence in sents(seed004)


@pytest.mark.parametrize(
    "sentence",
    [
        "Missiles will not work in such a case — they would only burn a country we want to help "
        "— that’s all.",
        "However, you know that Cde. Khrushchev portrays his defeat in the Caribbean Crisis as "
        "his victory.",
        "Moreover, he intends to proceed in the same manner, i.e. in a reckless manner.",
    ],
)
def test_exact_sentences_seed000(seed000, sentence):
    assert sentence in sents(seed000)


def test_sub_range_offsets_are_absolute(seed004):
    target = "July has no significance here."
    i = seed004.index(target)
    spans = split_sentences(seed004, i - 5, i + len(target) + 10)
    assert (i, i + len(target)) in spans
    assert all(i - 5 <= s < e <= i + len(target) + 10 for s, e in spans)
    assert split_sentences(seed004, 10, 10) == []
    assert split_sentences(seed004, 20, 10) == []


# --- Properties --------------------------------------------------------------------------------------------

ALPHABET = st.sampled_from(
    list("abcXYZ   \n\n\t.!?\"”’'—-[]()•*12;,")
    + ["é", "Ж", "ж", "中", "…", "\u00a0", "\r", "**", "U.S.", "Mr.", "1. ", "\n\n", "..."]
)
TEXTS = st.lists(ALPHABET, max_size=200).map("".join)

# Independent of the implementation: what a dropped bullet marker may look like.
_MARKER = re.compile(r"(?:[•▪◦‣●►]|[-–*+]|\d{1,3}[.)]|\(\d{1,3}\)|\(?[a-z]\))")


def _check(text: str, start: int, end: int) -> None:
    spans = split_sentences(text, start, end)
    prev = start
    for s, e in spans:
        assert prev <= s < e <= end
        piece = text[s:e]
        assert piece == piece.strip() and piece
        assert e - s <= MAX_SENTENCE_CHARS
        # Only whitespace, or one bullet marker at a line start, may fall between spans.
        gap = text[prev:s]
        if gap.strip():
            marker_at = prev + len(gap) - len(gap.lstrip())
            # a line starts after "\n" or a lone "\r" (old Mac line endings)
            line_begin = max(text.rfind("\n", start, marker_at) + 1, text.rfind("\r", start, marker_at) + 1, start)
            assert not text[line_begin:marker_at].strip(), (gap, text)
            assert _MARKER.fullmatch(gap.strip()), (gap, text)
        prev = e
    assert not text[prev:end].strip()

    # No sentence crosses a paragraph start; every sentence lies in some paragraph.
    paras = paragraph_starts(text, start, end)
    assert paras == sorted(set(paras))
    for p in paras:
        assert start <= p < end and not text[p].isspace()
        assert not any(s < p < e for s, e in spans)
    if spans:
        assert paras and paras[0] <= spans[0][0]


@settings(max_examples=400, deadline=None)
@given(TEXTS)
def test_property_whole_text(text):
    _check(text, 0, len(text))


@settings(max_examples=400, deadline=None)
@given(TEXTS, st.integers(0, 250), st.integers(0, 250))
def test_property_sub_ranges(text, a, b):
    start, end = sorted((min(a, len(text)), min(b, len(text))))
    _check(text, start, end)


# Without characters that can form a bullet marker, nothing but whitespace may be dropped.
NO_MARKER_TEXTS = st.lists(
    st.sampled_from(list("abcXYZ  \n\n\t.!?\"”’'—[]é中…;,") + ["U.S.", "Mr.", "\n\n", "..."]),
    max_size=200,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(NO_MARKER_TEXTS, st.integers(0, 250), st.integers(0, 250))
def test_property_nothing_lost(text, a, b):
    start, end = sorted((min(a, len(text)), min(b, len(text))))
    kept = "".join(text[s:e] for s, e in split_sentences(text, start, end))
    assert "".join(kept.split()) == "".join(text[start:end].split())


# --- Lines and paragraphs -------------------------------------------------------------------------------


def test_line_starts_and_line_of():
    text = "ab\ncd\n\nef\n"
    starts = line_starts(text)
    assert starts == [0, 3, 6, 7, 10]
    assert line_starts("") == [0]
    assert [line_of(i, starts) for i in range(len(text))] == [1, 1, 1, 2, 2, 2, 3, 4, 4, 4]
    assert line_of(len(text), starts) == 5


def test_line_of_on_seed(seed004):
    starts = line_starts(seed004)
    i = seed004.index("**October 20, 1962**")
    assert line_of(i, starts) == 3
    j = seed004.index("essentially tried to defend it")
    assert seed004.splitlines()[line_of(j, starts) - 1].startswith("essentially tried")


def test_paragraph_starts(seed004):
    text = "First para.\nStill first.\n\nSecond para he\n\ncontinued here.\n\n  - Third\n\n\n"
    ps = paragraph_starts(text)
    assert [text[p : p + 6] for p in ps] == ["First ", "Second", "- Thir"]
    assert paragraph_starts("   \n\n  ") == []
    still = text.index("Still")
    assert paragraph_starts(text, still) == [still, text.index("Second"), text.index("- Third")]

    ps4 = paragraph_starts(seed004)
    assert seed004.index("The situation has rapidly worsened") in ps4
    # Page breaks before a lowercase continuation do not start a paragraph.
    assert seed004.index("essentially tried") not in ps4
    assert seed004.index("into the country at any time") not in ps4
    assert seed004.index("formulated his ideas") not in ps4


# --- Speed ---------------------------------------------------------------------------------------------


def test_speed_one_megabyte(seed000, seed004):
    text = ((seed000 + "\n\n" + seed004 + "\n\n") * 60)[:1_000_000]
    t0 = time.perf_counter()
    spans = split_sentences(text)
    elapsed = time.perf_counter() - t0
    assert len(spans) > 5000
    assert elapsed < 1.0, f"split_sentences took {elapsed:.2f}s on 1 MB"


def test_speed_pathological_inputs():
    for text in ("." * 200_000, '."' * 100_000, " \n" * 100_000, "x" * 300_000, "A. " * 100_000):
        t0 = time.perf_counter()
        split_sentences(text)
        paragraph_starts(text)
        assert time.perf_counter() - t0 < 1.0
