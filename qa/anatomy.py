"""Document anatomy: what kind of text a document is, who wrote it to whom, when and where, and
which of its lines are the document's furniture rather than its content.

One mechanism for every layout (plain text, Markdown, the seeds' two web exports), driven by
generic cues of archival correspondence only:

* the title's grammar: "Letter From X to Y", "Telegram From the Embassy in Z to the Department of
  State", "Memorandum From the Counselor (McGhee) to …", "Memorandum of Conversation";
* the dateline: "<Place>, <Month D, YYYY>[, time]." on a line of its own (Markdown emphasis allowed);
* header fields: "Label: value" lines ("**Subject:** …") and "LABEL" blocks (SUBJECT / PARTICIPANTS
  / PRESENT, one entry a line), with participants read as people with roles and sides;
* salutations ("Dear Mr. President:"), closings ("Sincerely,"), signature lines at the end;
* telegram furniture: the message number and reference lines ("2941.", "Ref: Embtel 2579.") and
  routing lines ("For Kennan from Thompson." — which also say who really wrote the text);
* embedded texts: "Begin text" / "End text" (also "begin verbatim text", "text follows"), with
  their own author and recipient taken from the words that introduce them, their salutation and
  their signature;
* editorial matter: a "Notes" / "## Notes" / "Footnotes" section and footnote lines ("[1] …",
  "[^1]: …"), which become `metadata`.

`read_anatomy(text, meta)` fills the anatomy fields of a DocumentMeta that a layout reader may
already have started (title, date, body_start). Lines found to be furniture are recorded as
`structure_spans`: they stay in the index (quotable, with exact offsets) in the section
"structure", but are not candidates for content questions (see `asks_for_structure`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator, Optional

from .types import DocumentMeta

_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_MONTHS_ABBR = r"Jan\.?|Feb\.?|Mar\.?|Apr\.?|Jun\.?|Jul\.?|Aug\.?|Sept?\.?|Oct\.?|Nov\.?|Dec\.?"
_DATE = (
    rf"(?:(?:{_MONTHS}|{_MONTHS_ABBR})\s+\d{{1,2}},?\s+\d{{4}}|\d{{1,2}}\s+(?:{_MONTHS}),?\s+\d{{4}}"
    rf"|(?:{_MONTHS}),?\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}}|undated|[Nn]o\s+date)"
)
# "<Place>, <date>[, time]." — the whole line; emphasis markers around it are allowed.
_DATELINE_RE = re.compile(
    rf"^[ \t]*[*_]{{0,3}}(?:(?P<place>[A-Z][^\n\d]{{0,80}}?),?[ \t]+)?(?P<date>{_DATE})"
    rf"(?:,?[ \t]*(?P<time>[^\n*_]{{0,40}}?))?\.?[*_]{{0,3}}[ \t]*$"
)
_TIME_RE = re.compile(r"\d|noon|midnight|morning|evening|afternoon|night|[ap]\.?m\b|Z\b", re.I)

# Header labels of memoranda and telegrams (lowercase). A line "Label: value" is a header field only
# with one of these labels, so transcript labels ("Johnson: …") are never mistaken for fields.
FIELD_LABELS = {
    "subject", "subj", "re", "participants", "present", "also present", "others present", "attendees",
    "to", "from", "date", "time", "place", "location", "ref", "refs", "reference", "references",
    "copy", "copies", "cc", "distribution", "classification", "via", "through", "info", "action",
    "memorandum for", "memo for", "for", "attachment", "attachments", "enclosure", "enclosures",
    "drafted by", "approved by", "cleared by", "sent", "received", "origin", "file",
}
_PEOPLE_LABELS = {"participants", "present", "also present", "others present", "attendees"}
_FIELD_RE = re.compile(
    r"^[ \t]*(?:\*\*|__)?(?P<label>[A-Za-z][A-Za-z .'/-]{0,30}?)[ \t]*:(?:\*\*|__)?[ \t]*(?P<value>\S.*)?$"
)
# "SUBJECT" / "PARTICIPANTS" / "US PARTICIPANTS" alone on a line, opening a block of entries.
_LABEL_LINE_RE = re.compile(r"^[ \t]*(?:\*\*)?(?P<label>[A-Z][A-Z .'/-]{1,40}?)(?:\*\*)?[ \t]*:?[ \t]*$")

_SALUTATION_RE = re.compile(
    r"^[ \t]*(?:(?:My[ \t]+)?(?:[Dd]ear|[Ee]steemed|[Rr]espected|[Hh]onou?red)\b[^\n]{0,80}"
    r"|(?:Mr\.|Mister|Madam|Madame|Sir|Excellency|Your[ \t]+Excellency|Gentlemen)[^\n]{0,40})[:,!—–][ \t]*$"
)
_SHORT_ADDRESS_RE = re.compile(r"^[ \t]*[A-Z][\w.’']{0,15}(?:[ \t]+[\w.’']{1,15}){0,2}[ \t]*[—–:][ \t]*$")
_CLOSING_RE = re.compile(
    r"^[ \t]*(?:(?:Very[ \t]+|Most[ \t]+)?(?:[Ss]incerely|[Rr]espectfully|[Ff]aithfully|[Cc]ordially|[Tt]ruly)"
    r"(?:[ \t]+yours)?|[Yy]ours(?:[ \t]+(?:sincerely|faithfully|truly|respectfully|ever))?"
    r"|With[ \t]+(?:(?:best|warm|kind|warmest|kindest|highest)[ \t]+)?(?:regards|respect|wishes|esteem)"
    r"|Best[ \t]+(?:regards|wishes)|Respectfully[ \t]+submitted)[,.]?[ \t]*$"
)
# Markers around a relayed text. "Begin text", "begin verbatim text", "Text follows", "Quote"/"Unquote".
_BEGIN_RE = re.compile(
    r"\b(?:[Bb]egin|BEGIN|[Ss]tart)[ \t]+(?:(?:verbatim|informal|unofficial|official|English|Russian|"
    r"translation|summary|of)[ \t]+){0,3}(?:text|TEXT|translation|quote|message|letter)\b[ \t]*[.:]?"
    r"|\b(?:[Tt]ext|TEXT)[ \t]+(?:of[ \t]+[^.\n:]{1,80}?[ \t]+)?follows\b[ \t]*[.:]?"
    r"|^[ \t]*(?:QUOTE|Quote)[ \t]*[.:]?[ \t]*$",
    re.M,
)
_END_RE = re.compile(
    r"\b(?:[Ee]nd|END)[ \t]+(?:(?:verbatim|informal|unofficial|official|of)[ \t]+){0,2}"
    r"(?:text|TEXT|translation|quote|message|letter)\b[ \t]*\.?"
    r"|^[ \t]*(?:UNQUOTE|Unquote|End[ \t]+quote)[ \t]*\.?[ \t]*$",
    re.M,
)
_NOTES_HEAD_RE = re.compile(
    r"^[ \t]*(?:#{1,4}[ \t]*)?(?:\*\*)?(?:Notes|NOTES|Footnotes|FOOTNOTES|Endnotes|Source[ \t]+[Nn]otes?)(?:\*\*)?[ \t]*:?[ \t]*$",
    re.M,
)
_FOOTNOTE_LINE_RE = re.compile(r"^[ \t]*\[\^?\d{1,3}\]:?[ \t]+\S|^[ \t]*Source:[ \t]+\S", re.M)
# Telegram furniture at the head of a text: message number, references, routing.
_NUMBER_PIECE = re.compile(r"[ \t]*(?:[A-Z][A-Za-z]{1,10}[ \t]+)?\d{1,6}(?:[-/]\d{1,6})?\.(?=\s)")
_REF_PIECE = re.compile(
    r"[ \t]*(?:Ref(?:s|tel)?|Reference|Re|Deptel|Embtel|Urtel|Mytel|Reurtel|Circtel|Cirtel)[:.]?"
    r"[ \t]+[A-Z0-9][^.\n]{0,40}?\d[^.\n]{0,20}\.(?=\s)"
)
_ROUTING_PIECE = re.compile(
    r"[ \t]*(?:Pass[ \t]+(?P<via>[^.\n]{1,40}?)[ \t]+)?[Ff]or[ \t]+(?P<to>[A-Z][^.\n]{0,60}?)[ \t]+from[ \t]+"
    r"(?P<frm>[A-Z][^.\n]{0,50}?)\.(?=\s)"
)

# Title grammar: "<Kind> From <sender> to <recipient>[, at <place>]".
_KINDS = [
    ("editorial note", r"editorial\s+note"),
    ("memorandum of conversation", r"memorandum\s+of\s+(?:a\s+)?conversation|memcon|record\s+of\s+(?:a\s+)?conversation"),
    ("telephone conversation", r"telephone\s+(?:conversation|call)|transcript"),
    ("telegram", r"telegram|cable|airgram|circular\s+telegram|despatch|dispatch"),
    ("letter", r"letter"),
    ("message", r"message|oral\s+statement"),
    ("note", r"(?:diplomatic\s+)?note(?!s)|aide[- ]m[ée]moire"),
    ("minutes", r"minutes|record\s+of\s+(?:a\s+)?meeting|summary\s+record|notes\s+of"),
    ("memorandum", r"memorandum|memo\b"),
    ("report", r"report|paper|estimate|review|study|assessment|analysis|record"),
    ("speech", r"speech|address|statement|remarks|communiqu[ée]|declaration|appeal"),
]
_KIND_RES = [(k, re.compile(rf"\b(?:{p})\b", re.I)) for k, p in _KINDS]
_FROM_TO_RE = re.compile(
    r"\b[Ff]rom\s+(?P<sender>.+?)(?:\s+to\s+(?P<recipient>.+?))?(?:,\s+(?:at|in)\s+[A-Z][^,]*)?\s*$"
)
_BETWEEN_RE = re.compile(r"\b[Bb]etween\s+(?P<a>.+?)\s+and\s+(?P<b>.+?)\s*$")
_BY_RE = re.compile(r"\b(?:[Pp]repared|[Ww]ritten|[Ss]ent|[Ss]igned|[Dd]rafted)?\s*\b[Bb]y\s+(?P<sender>.+?)\s*$")
# Words that make a phrase an institution rather than a person.
_INSTITUTION_WORDS = {
    "embassy", "department", "mission", "government", "council", "ministry", "office", "posts",
    "staff", "committee", "secretariat", "delegation", "consulate", "legation", "agency", "board",
    "cc", "cpsu", "presidium", "politburo", "command", "chiefs", "house", "kremlin", "section",
    "division", "bureau", "service", "party", "union", "assembly", "congress", "senate", "embassies",
    "missions", "consulates", "stations", "headquarters", "group", "people", "leadership", "center",
    "centre", "directorate", "administration", "secretary-general",
}
_TITLE_WORDS = {
    "president", "vice", "secretary", "undersecretary", "under", "assistant", "deputy", "ambassador",
    "minister", "chairman", "premier", "prime", "foreign", "general", "senator", "marshal", "admiral",
    "colonel", "commander", "governor", "chancellor", "king", "queen", "prince", "pope", "consul",
    "envoy", "mayor", "counselor", "counsellor", "director", "representative", "special", "chief",
    "former", "soviet", "american", "first", "executive", "attorney", "chargé", "charge", "acting",
    "mr.", "mr", "mrs.", "ms.", "dr.", "cde.", "comrade", "sir", "herr", "the", "his", "her",
    "defense", "state", "national", "security", "affairs", "of", "for", "and", "to", "in", "at",
    "ambassador-at-large", "at-large", "head", "leader", "party", "union", "general", "officer",
    "interpreter", "advisor", "adviser", "consultant", "staff", "member", "speaker", "congressman",
    "justice", "emperor", "shah", "sheikh", "professor", "delegate", "academician", "minister-counselor",
    "amb.", "amb", "asst.", "asst", "sec", "sec.", "miss", "messrs.", "senators", "senator", "congressmen",
    "white", "cultural", "third", "second", "political", "economic", "military", "naval", "air", "attaché",
    "charge", "d'affaires", "secretaries", "ministers", "presidents", "ambassadors", "undersecretary",
    "commerce", "desk", "science", "intelligence", "information", "press", "personal", "permanent",
    "united", "nations", "soviet", "british", "french", "german", "us", "u.s.", "ussr", "cia",
}
_FUNCTION_WORDS = {"the", "of", "and", "to", "in", "at", "for", "his", "her", "on", "from", "with"}
_NAME_WORD = r"(?:[A-Z]\.(?:[ \t]?[A-Z]\.)*|[A-Z][\w’'\-]*\.?)"


@dataclass
class _Line:
    start: int
    end: int
    text: str  # stripped


def lines(text: str, start: int, end: int) -> list[_Line]:
    """Every line of text[start:end], blank ones too, with the offsets of its stripped text."""
    out = []
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        stop = end if nl < 0 else nl
        raw = text[pos:stop]
        s = raw.strip()
        lead = len(raw) - len(raw.lstrip())
        out.append(_Line(pos + lead, pos + lead + len(s), s))
        pos = stop + 1
    return out


def _blocks(text: str, start: int, end: int) -> list[list[_Line]]:
    """Runs of non-blank lines (paragraphs) in text[start:end]."""
    out: list[list[_Line]] = []
    cur: list[_Line] = []
    for ln in lines(text, start, end):
        if ln.text:
            cur.append(ln)
        elif cur:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def _unmark(s: str) -> str:
    """Markdown emphasis and heading marks off a line."""
    s = re.sub(r"^#{1,6}[ \t]+", "", s.strip())
    return re.sub(r"^[*_]{1,3}(.*?)[*_]{1,3}$", r"\1", s).strip()


# ---------------------------------------------------------------------------------------------
# People

def _low(w: str) -> str:
    return re.sub(r"[’']s$", "", w.lower().strip(",;:"))


def _is_name_word(w: str) -> bool:
    lw = _low(w)
    if lw in _TITLE_WORDS or lw in _INSTITUTION_WORDS or lw.rstrip(".") in _TITLE_WORDS:
        return False
    return bool(re.fullmatch(_NAME_WORD, w)) and not re.search(r"[’']s$", w)


def _trailing_name(words: list[str]) -> int:
    """Index where the trailing run of name words starts (len(words) when there is none)."""
    k = len(words)
    while k > 0 and (_is_name_word(words[k - 1]) or (words[k - 1].lower() in _PARTICLE_WORDS and k < len(words))):
        k -= 1
    while k < len(words) and words[k].lower() in _PARTICLE_WORDS:
        k += 1
    return k


_PARTICLE_WORDS = {"de", "van", "von", "la", "du", "der", "da", "di", "le", "al", "bin"}


def _titlecase(name: str) -> str:
    words = name.split()
    if any(len(w) > 3 and w.isupper() for w in words):
        return " ".join(w if re.fullmatch(r"(?:[A-Z]\.)+", w) else w.capitalize() for w in words)
    return name


def person_from_phrase(phrase: str) -> dict:
    """{"name", "role", "kind", "text"} for a sender/recipient/participant phrase.

    "the Counselor of the Department of State (McGhee)" -> McGhee, role "Counselor of the Department
    of State"; "Secretary of State Rusk" -> Rusk, role "Secretary of State"; "Llewellyn E. Thompson,
    Ambassador-at-Large" -> "Llewellyn E. Thompson"; "the Embassy in the Soviet Union" -> an
    institution; "The President" -> a role without a name.
    """
    raw = re.sub(r"\s+", " ", phrase).strip(" \t,;.:*_")
    raw = re.sub(r"^[A-Z/]{1,8}[—–-]+\s*", "", raw)  # office symbols: "EUR—Mr. Kohler"
    raw = re.sub(r"\s*\((?=[a-z])[^)]*\)", "", raw).strip(" ,")  # "(part-time)", "(interpreting)"
    raw = re.sub(r"\s*\((?:Interpret\w*|Notetaker|Rapporteur)\)", "", raw).strip(" ,")
    out = {"name": None, "role": None, "kind": "person", "text": raw}
    m = re.search(r"\(([A-Z][\w’'\-. ]{1,40})\)\s*$", raw)
    if m and re.search(r"[a-z]", m.group(1)) and _low(m.group(1)) not in _TITLE_WORDS | _INSTITUTION_WORDS:
        before = raw[: m.start()].split()
        titled = any(_low(w) in _TITLE_WORDS - {"the", "of", "and", "to", "in", "at", "for"} for w in before)
        if before and (not _is_name_word(before[-1]) or (titled and " and " not in raw[: m.start()])):
            # "the Counselor … of State (McGhee)", "the Ambassador at Large (Thompson)"
            out["name"] = m.group(1).strip()
            out["role"] = re.sub(r"^(?:the|The)\s+", "", raw[: m.start()].strip(" ,")) or None
            return out
    head, _, tail = raw.partition(",")
    tail = tail.strip() or None
    words = head.split()
    if not words:
        return out
    pre, sep, post = head.partition(" of ")
    candidates = []
    if sep:
        candidates.append((pre.split(), "of " + post))
    candidates.append((words, None))
    for ws, extra in candidates:
        k = _trailing_name(ws)
        if k == len(ws):
            continue
        prev = _low(ws[k - 1]) if k > 0 else ""
        if k > 0 and (prev in _FUNCTION_WORDS or (prev.rstrip(".") not in _TITLE_WORDS and prev not in _TITLE_WORDS)):
            continue  # only a title may precede a name ("the Embassy in Yugoslavia" is a place)
        out["name"] = _titlecase(" ".join(ws[k:]))
        title = " ".join(w for w in ws[:k] if _low(w).rstrip(".") not in ("the", "mr", "mrs", "ms", "dr", "miss", "his", "her"))
        if extra and extra.lower().startswith("of the ") and not title:
            extra = extra[7:]
        role = " ".join(x for x in (title, extra) if x) or None
        out["role"] = ", ".join(x for x in (role, tail) if x) or None
        return out
    low = [_low(w) for w in words]
    if any(w in _INSTITUTION_WORDS for w in low):
        out["kind"] = "institution"
        out["name"] = re.sub(r"^(?:the|The)\s+", "", head)
        return out
    out["role"] = ", ".join(x for x in (re.sub(r"^(?:the|The)\s+", "", head), tail) if x)
    return out


def _split_people(value: str) -> list[str]:
    """'A; B and C' / 'A, B, and the Secretary' -> entries. Commas split only when no entry has a role."""
    value = value.strip().rstrip(".")
    if ";" in value:
        parts = [p for p in re.split(r"\s*;\s*", value) if p]
    else:
        parts = [p for p in re.split(r"\s*,\s*(?:and\s+)?|\s+and\s+", value) if p]
    return [p.strip() for p in parts if p.strip()]


_TO_NOUNS = {"mission", "ambassador", "delegation", "representative", "envoy", "minister", "emissary", "observer",
             "delegate", "adviser", "advisor", "assistant", "liaison", "attaché"}


def _parties(phrase: str) -> list[dict]:
    """'Secretary of State Rusk and the Director … (Murrow)' -> two people; 'All Diplomatic and
    Consular Posts' stays one institution."""
    parts = re.split(r"\s+and\s+(?=the\s|[A-Z])", phrase)
    if len(parts) > 1:
        people = [person_from_phrase(p) for p in parts]
        if all(p["kind"] == "person" and p["name"] for p in people):
            return people
    return [person_from_phrase(phrase)]


def title_parties(title: str) -> tuple[list[dict], list[dict]]:
    """(authors, recipients) named by a title ("Letter From X to Y", "… Between A and B", "… by X")."""
    t = re.sub(r"\s+", " ", title or "").strip()
    m = _FROM_TO_RE.search(t)
    if m:
        sender, rec = m.group("sender"), m.group("recipient")
        if rec:
            # "From the Mission to the United Nations to the Department of State": the sender's own
            # "to" follows a word such as Mission or Ambassador; the split is at another "to".
            whole = f"{sender} to {rec}"
            splits = [x.start() for x in re.finditer(r"\s+to\s+", whole)]
            for at in splits:
                left = whole[:at].split()
                if left and _low(left[-1]) not in _TO_NOUNS:
                    sender = whole[:at]
                    rec = re.sub(r"^\s+to\s+", "", whole[at:])
                    break
        return _parties(sender), (_parties(rec) if rec else [])
    m = _BY_RE.search(t)
    if m and re.search(r"\b(?:prepared|written|sent|signed|drafted|by)\b", t, re.I):
        p = person_from_phrase(m.group("sender"))
        if p["kind"] == "person" and p["name"]:
            return [p], []
    return [], []


def title_between(title: str) -> list[dict]:
    """The parties of "Memorandum of Conversation Between A and B": participants, not authors."""
    m = _BETWEEN_RE.search(re.sub(r"\s+", " ", title or "").strip())
    return [person_from_phrase(m.group("a")), person_from_phrase(m.group("b"))] if m else []


def kind_of(title: str) -> Optional[str]:
    for kind, rx in _KIND_RES:
        if rx.search(title or ""):
            return kind
    return None


def _display(p: dict) -> Optional[str]:
    return p.get("name") or None


# ---------------------------------------------------------------------------------------------
# Parts of the anatomy

def dateline(line: str) -> Optional[dict]:
    """{"place", "date_text", "time"} when `line` is a dateline."""
    s = line.strip()
    if len(s) > 160:
        return None
    m = _DATELINE_RE.match(s)
    if not m:
        return None
    place = (m.group("place") or "").strip(" ,") or None
    time = (m.group("time") or "").strip(" ,.") or None
    if time and not _TIME_RE.search(time):
        return None  # "Moscow, May 27, 1961, the day after …" is prose, not a dateline
    if place and (len(place.split()) > 8 or place[-1:] in ".:;"):
        return None
    return {"place": place, "date_text": m.group("date"), "time": time}


def _field(line: str) -> Optional[tuple[str, str]]:
    m = _FIELD_RE.match(line)
    if not m:
        return None
    label = re.sub(r"\s+", " ", m.group("label").strip().strip("*_")).lower()
    if label not in FIELD_LABELS:
        return None
    return label, (m.group("value") or "").strip().strip("*_").strip()


def _label_line(line: str) -> Optional[str]:
    m = _LABEL_LINE_RE.match(line)
    if not m:
        return None
    label = re.sub(r"\s+", " ", m.group("label")).strip().lower()
    words = label.split()
    if label in FIELD_LABELS:
        return label
    # "US PARTICIPANTS", "SOVIET PARTICIPANTS"
    if 1 < len(words) <= 3 and words[-1] in FIELD_LABELS:
        return label
    return None


_SIDE_RE = re.compile(
    r"(?:[A-Z]{2,6}|U\.S\.(?:S\.R\.)?|(?:The\s+)?(?:[A-Z][a-z]+\s+)?(?:States|Union|Kingdom|Republic|Side|Delegation)"
    r"|[A-Z][a-z]+(?:ans|ets|ese|ish|ch)|(?:US|USSR|UK|Soviet|American|British|French)\s+(?:[Ss]ide|[Dd]elegation))"
)


def _people_in(entry: str) -> list[dict]:
    """One participants entry: a person, or several sharing a group ("Mr. Guthe and Mr. Weber (C.I.A.)")
    or a title ("Senators Mansfield, Humphrey")."""
    group = None
    m = re.search(r"\s*\(([^)]{1,30})\)\s*$", entry)
    if m and _is_name_word(entry[: m.start()].split()[-1] if entry[: m.start()].split() else ""):
        group, entry = m.group(1), entry[: m.start()]
    singles = sum(1 for p in entry.split(",") if re.fullmatch(r"\s*(?:and\s+)?[A-Z][a-z]+\s*", p))
    if group or re.search(r"\s(?:and)\s+(?:Mr\.|Mrs\.|Ms\.|Dr\.|Secretary|Ambassador|Senator)", entry) or singles >= 3:
        parts = [p for p in re.split(r"\s*,\s*(?:and\s+)?|\s+and\s+", entry) if p.strip()]
    else:
        parts = [entry]
    out = []
    for p in parts:
        person = person_from_phrase(p)
        if person["name"] or person["role"]:
            if group:
                person["group"] = group
            out.append(person)
    return out


def _participants(lines: list[str], side: Optional[str] = None) -> list[dict]:
    """People of a participants list: one entry a line, or several on a line separated by ';'."""
    out = []
    for line in lines:
        s = _unmark(line)
        # group labels: "US", "USSR", "United States", "US: President Johnson; …", "Americans:"
        m = re.match(r"^(?P<g>[^:;,]{2,30}?)[ \t]*:[ \t]*(?P<rest>.*)$", s)
        if m and _SIDE_RE.fullmatch(m.group("g")):
            side, s = m.group("g"), m.group("rest")
        elif _SIDE_RE.fullmatch(s):
            side = s
            continue
        if not s:
            continue
        for p in re.split(r"\s*;\s*", s):
            # a group label inside a ';' list: "…; USSR: Alexey Kosygin, Chairman …"
            g = re.match(r"^(?P<g>[^:;,]{2,30}?)[ \t]*:[ \t]*(?P<rest>.+)$", p)
            if g and _SIDE_RE.fullmatch(g.group("g")):
                side, p = g.group("g"), g.group("rest")
            for person in _people_in(p):
                person["side"] = side
                out.append(person)
    return out


@dataclass
class _Text:
    """A text with its own voice: the document's body or a text relayed inside it."""

    start: int
    end: int


def _head_furniture(text: str, start: int, end: int, meta: DocumentMeta, structure: list, allow_fields: bool,
                    info: dict, numbered: bool = False) -> int:
    """Mark the dateline, header fields, salutation and telegram furniture at the head of
    text[start:end], noting what they say in `info` (date_text, place, time, salutation,
    routed_from, routed_to). Returns where the content begins. Header fields go to `meta`."""
    blocks = _blocks(text, start, end)
    content_start = start
    i = 0
    skipped_short = 0
    while i < len(blocks) and i < 12:
        blk = blocks[i]
        first = blk[0].text
        d = dateline(_unmark(first)) if len(blk) == 1 else None
        if d:
            structure.append((blk[0].start, blk[0].end))
            if "date_text" not in info:
                info.update(date_text=d["date_text"], place=d["place"], time=d["time"])
            content_start = blk[-1].end
            i += 1
            continue
        if allow_fields and _read_fields(blk, meta, structure):
            content_start = blk[-1].end
            i += 1
            continue
        if len(blk) <= 2 and (_SALUTATION_RE.match(first) or _SHORT_ADDRESS_RE.match(first)):
            structure.append((blk[0].start, blk[0].end))
            info.setdefault("salutation", first)
            content_start = blk[0].end
            if len(blk) == 1:
                i += 1
                continue
            break
        # a short caption line before the fields ("MEMORANDUM FOR THE RECORD", an all-caps heading)
        if len(blk) == 1 and len(first.split()) <= 12 and not re.search(r"[.!?]$", first) and skipped_short < 2 \
                and i + 1 < len(blocks):
            skipped_short += 1
            i += 1
            continue
        break
    # Telegram furniture at the start of the first content paragraph: "2941.", "Ref: …", "For X from Y."
    if i < len(blocks):
        pos = blocks[i][0].start
        para_end = blocks[i][-1].end
        stop = min(len(text), para_end + 1)  # the look-ahead after a final "." sees the line break
        while pos < para_end:
            m = (_NUMBER_PIECE.match(text, pos, stop) if numbered else None) or _REF_PIECE.match(text, pos, stop)
            r = None if m else _ROUTING_PIECE.match(text, pos, stop)
            hit = m or r
            if not hit:
                break
            a = hit.start() + (len(hit.group()) - len(hit.group().lstrip()))
            structure.append((a, hit.end()))
            if r is not None:
                who = person_from_phrase(r.group("frm"))
                to = person_from_phrase(r.group("to"))
                if who["name"] and who["kind"] == "person":
                    info.setdefault("routed_from", who["name"])
                if to["name"] or to["role"]:
                    info.setdefault("routed_to", to["name"] or to["role"])
            pos = hit.end()
            while pos < para_end and text[pos] in " \t":
                pos += 1
        content_start = max(content_start, blocks[i][0].start)
    return content_start


def _read_fields(blk: list[_Line], meta: DocumentMeta, structure: list) -> bool:
    """A block of header fields ("Subject: …" lines, or a "PARTICIPANTS" label and its entries)."""
    label = _label_line(blk[0].text)
    if label and len(blk) > 1:
        values = [ln.text for ln in blk[1:]]
        _store_field(meta, label, values)
        structure.extend((ln.start, ln.end) for ln in blk)
        return True
    fields = [_field(ln.text) for ln in blk]
    if not fields or not all(fields):
        # a participants field wrapped over several lines: the first line is a field, the rest entries
        if fields and fields[0] and fields[0][0] in _PEOPLE_LABELS and not any(fields[1:]):
            _store_field(meta, fields[0][0], [fields[0][1]] + [ln.text for ln in blk[1:]])
            structure.extend((ln.start, ln.end) for ln in blk)
            return True
        return False
    for (label, value), ln in zip(fields, blk):
        _store_field(meta, label, [value])
        structure.append((ln.start, ln.end))
    return True


def _store_field(meta: DocumentMeta, label: str, values: list[str]) -> None:
    values = [v for v in values if v]
    meta.fields.setdefault(label, "; ".join(values) if values else "")
    if label in ("subject", "subj", "re") and meta.subject is None:
        meta.subject = " ".join(_unmark(v) for v in values) or None
    elif label in _PEOPLE_LABELS or label.endswith("participants"):
        side = None
        words = label.split()
        if len(words) > 1:
            side = " ".join(words[:-1]).upper()
        entries: list[str] = []
        for v in values:
            # "Kosygin, Gromyko, Dobrynin, the Secretary and Amb. Thompson. Soviet Mission, 12 noon, June 22."
            if ";" not in v and len(values) == 1 and not re.search(r",\s*(?:[A-Z][a-z]+\s+){0,3}(?:of|Department|Ministry)\b", v):
                entries.extend(_split_people(v.split(". ")[0]))
            else:
                entries.append(v)
        meta.participants.extend(_participants(entries, side))
    elif label in ("from",) and not meta.authors:
        meta.authors = [person_from_phrase(v) for v in values]
    elif label in ("to", "memorandum for", "memo for") and not meta.recipients:
        meta.recipients = [person_from_phrase(v) for v in values]


def _tail(text: str, start: int, end: int, structure: list) -> tuple[int, Optional[str], Optional[str]]:
    """Closing and signature lines at the end of text[start:end]: (content end, closing, signer)."""
    blocks = _blocks(text, start, end)
    closing = signer = None
    content_end = end
    n = 0
    for blk in reversed(blocks):
        if n >= 3:
            break
        lines = [ln.text for ln in blk]
        if len(lines) == 1 and _CLOSING_RE.match(lines[0]):
            closing = lines[0]
            structure.append((blk[0].start, blk[0].end))
            content_end = blk[0].start
            n += 1
            continue
        if closing is None and n >= 1 and not _sig_block(lines):
            break
        if _sig_block(lines):
            # closing and signature in one block: "Sincerely,\nJohn Smith"
            k = 0
            if _CLOSING_RE.match(lines[0]):
                closing = lines[0]
                k = 1
            if k < len(lines):
                signer = _unmark(lines[k])  # the earliest signature block wins (name, then title lines)
            structure.extend((ln.start, ln.end) for ln in blk)
            content_end = blk[0].start
            n += 1
            continue
        break
    return content_end, closing, signer


def _sig_block(lines: list[str]) -> bool:
    """Short name-like lines: "Thompson", "Pierre Salinger / Press Secretary to the President", "McG. B."."""
    if not lines or len(lines) > 4:
        return False
    body = [ln for ln in lines if not _CLOSING_RE.match(ln)]
    if not body:
        return False
    for k, ln in enumerate(body):
        s = _unmark(ln)
        if not s or len(s) > 70 or len(s.split()) > (4 if k == 0 else 9):
            return False
        if re.search(r"[!?:;\"“”\[\]]", s) or (s.endswith(".") and not re.search(r"\b[A-Z][a-z]?\.$", s)):
            return False
        if not s[:1].isupper():
            return False
    first = _unmark(body[0])
    if dateline(first) or _field(first):
        return False
    return True


def _notes_start(text: str, start: int) -> Optional[tuple[int, int]]:
    """(heading start, editorial matter start) of a trailing Notes section, or of a trailing run of
    footnote lines when there is no heading."""
    heads = [m for m in _NOTES_HEAD_RE.finditer(text, start) if m.start() > start]
    if heads:
        h = heads[-1]
        return h.start(), h.end()
    # a block of footnote lines running to the end of the text
    blocks = _blocks(text, start, len(text))
    first = None
    for blk in reversed(blocks):
        if all(_FOOTNOTE_LINE_RE.match(ln.text) or k > 0 for k, ln in enumerate(blk)) and _FOOTNOTE_LINE_RE.match(blk[0].text):
            first = blk[0].start
            continue
        break
    if first is not None and first > start:
        return first, first
    return None


def _intro_parties(text: str, start: int, end: int) -> tuple[list[dict], list[dict], Optional[str]]:
    """Who wrote a relayed text, from the words before its "Begin text" marker:
    "Following is text of letter from Khrushchev to President: …"."""
    intro = text[max(start, end - 400):end]
    intro = intro.split("\n\n")[-1]
    m = re.search(
        r"\b(?P<kind>letter|message|note|reply|statement|text|telegram|cable|communication|memorandum)\b"
        r"(?:\s+(?:dated|of)\s+[^,.;:]{1,30}?)?\s+from\s+(?P<frm>.+?)(?:\s+to\s+(?P<to>.+?))?"
        r"(?=\s*(?:[,.;:(]|dated|of\s+(?:" + _MONTHS + r")|which|delivered|received|handed|$))",
        intro,
        re.I,
    )
    kind = None
    if m:
        kind = kind_of(m.group("kind")) or "letter"
        frm = [person_from_phrase(m.group("frm"))]
        to = [person_from_phrase(m.group("to"))] if m.group("to") else []
        return frm, to, kind
    m = re.search(r"\b(?P<who>[A-Z][\w’'\-]+(?:\s+[A-Z][\w’'\-]+)?)['’]s\s+(?P<kind>letter|message|note|reply)\b", intro)
    if m:
        return [person_from_phrase(m.group("who"))], [], kind_of(m.group("kind")) or "letter"
    return [], [], kind


def _embedded(text: str, start: int, end: int, structure: list, meta: DocumentMeta) -> list[dict]:
    """Texts relayed between begin/end markers, each with its own author, recipient and furniture."""
    out = []
    pos = start
    while True:
        b = _BEGIN_RE.search(text, pos, end)
        if not b:
            break
        e = _END_RE.search(text, b.end(), end)
        inner_end = e.start() if e else end
        a = b.start() + (len(b.group()) - len(b.group().lstrip()))
        structure.append((a, b.end()))
        if e:
            structure.append((e.start() + (len(e.group()) - len(e.group().lstrip())), e.end()))
        frm, to, kind = _intro_parties(text, start, b.start())
        emb: dict = {"start": b.end(), "end": inner_end, "kind": kind, "author": None, "recipient": None}
        # the relayed text's own dateline, salutation, closing and signature
        inner_start = b.end()
        _head_furniture(text, inner_start, inner_end, meta, structure, allow_fields=False, info=emb)
        c_end, closing, signer = _tail(text, inner_start, inner_end, structure)
        if closing:
            emb["closing"] = closing
        if signer:
            emb["signature"] = signer
        author = next((p["name"] for p in frm if p.get("name")), None)
        if author is None and signer and _sig_name(signer):
            author = _sig_name(signer)
        if author is None:
            author = emb.get("routed_from")
        emb["author"] = author
        emb["recipient"] = next((p.get("name") or p.get("role") for p in to if p.get("name") or p.get("role")), None)
        if emb["recipient"] is None and emb.get("salutation"):
            emb["recipient"] = re.sub(r"^(?:My\s+)?(?:[Dd]ear|[Ee]steemed|[Rr]espected)\s+", "", emb["salutation"]).rstrip(":,!—– ")
        if emb.get("kind") is None:
            emb["kind"] = "letter" if emb.get("salutation") else "text"
        if emb.get("date_text"):
            from .documents import iso_date

            emb["date"] = iso_date(emb["date_text"])
        out.append(emb)
        pos = e.end() if e else end
    return out


def _sig_name(signer: Optional[str]) -> Optional[str]:
    """A signature usable as a name: "Thompson", "N. Khrushchev", "Pierre Salinger" (not initials "DK")."""
    if not signer:
        return None
    s = _unmark(signer).strip(" ,.")
    s = re.sub(r"^(?:/s/|s/)\s*", "", s)
    words = s.split()
    if not words or len(words) > 4:
        return None
    if not any(re.fullmatch(r"[A-Z][a-z][\w’'\-]+|[A-Z][A-Z’'\-]{2,}", w) for w in words):
        return None
    if all(w.isupper() and len(w) <= 3 for w in words):
        return None
    if words[-1].isupper() and len(words[-1]) > 3:
        words[-1] = words[-1].capitalize()
    return " ".join(words)


# ---------------------------------------------------------------------------------------------
# The whole

def _generic_title(text: str, meta: DocumentMeta) -> None:
    """A first line that is a title: "# Heading", "**Heading**" or a short line followed by a blank line."""
    blocks = _blocks(text, 0, len(text))
    if not blocks:
        return
    blk = blocks[0]
    first = blk[0].text
    is_heading = bool(re.match(r"#{1,6}[ \t]+\S", first)) or bool(re.fullmatch(r"\*\*[^*]+\*\*", first))
    joined = " ".join(ln.text for ln in blk)
    if not is_heading:
        if len(blocks) < 2:
            return
        if len(blk) > 2 or len(joined) > 300 or re.search(r"[.!?]$", joined) or dateline(joined):
            return
        if _field(first) or _label_line(first) or _SALUTATION_RE.match(first):
            return
        nxt = blocks[1][0].start
    else:
        # A heading is the title whatever follows it: the body starts on the next line.
        nxt = blk[1].start if len(blk) > 1 else (blocks[1][0].start if len(blocks) > 1 else len(text))
        blk = blk[:1]
        joined = first
    title = _unmark(joined)
    if not title:
        return
    meta.title = title
    lead = blk[0].text.find(_unmark(blk[0].text)) if blk[0].text else 0
    meta.metadata_spans.append((blk[0].start + max(lead, 0), blk[-1].start + len(blk[-1].text.rstrip("*_ ").rstrip())))
    meta.body_start = nxt


_FIRST_PERSON_RE = re.compile(r"(?:^|[.;:]\s+|,\s+|\b(?:and|but|that|when|which)\s+)I\s+(?:[a-z]+ed|had|was|told|said|took|made|saw|met|thought|felt|think|believe)\b", re.M)


def _first_person(text: str, start: int, end: int) -> bool:
    """Does the narration say "I" (outside quotation marks)?"""
    body = re.sub(r"“[^”]*”|\"[^\"\n]*\"", " ", text[start:end])
    return len(_FIRST_PERSON_RE.findall(body)) >= 1


def _drafter(note: Optional[str]) -> Optional[str]:
    """"Drafted by Akalovsky", "Drafted and initialed by Thompson", "Prepared by Humphrey"."""
    m = re.search(r"\b(?:Drafted|Prepared|Written)(?:\s+and\s+[a-z]+)?\s+by\s+"
                  r"(?P<n>[A-Z][\w’'\-]+(?:\s+(?:[A-Z]\.\s*)*[A-Z][\w’'\-]+)?)", note or "")
    return m.group("n") if m else None


def read_anatomy(text: str, meta: DocumentMeta, header_read: bool) -> None:
    """Fill the anatomy of `meta` from `text`. `header_read` says a layout reader already found the
    title and where the body starts (the generic title rule is then skipped)."""
    if not header_read:
        _generic_title(text, meta)
    structure: list[tuple[int, int]] = []
    body_start = meta.body_start
    # Editorial matter at the end: Notes heading (furniture) and the notes themselves (metadata).
    notes = _notes_start(text, body_start)
    body_end = len(text)
    if notes:
        h, after = notes
        if after > h:
            structure.append((h, after))
        s = after
        while s < len(text) and text[s].isspace():
            s += 1
        if s < len(text):
            meta.metadata_spans.append((s, len(text)))
        body_end = h
        source = re.search(r"Source:\s*(?P<src>[^\n]+)", text[after:])
        if source and meta.source_note is None:
            meta.source_note = source.group("src").strip()
    meta.body_end = body_end
    # Head: dateline, fields, salutation, telegram furniture.
    info: dict = {}
    numbered = kind_of(meta.title or "") == "telegram"  # a telegram's text opens with its number
    _head_furniture(text, body_start, body_end, meta, structure, allow_fields=True, info=info, numbered=numbered)
    if info.get("date_text"):
        if meta.date is None:
            from .documents import iso_date

            meta.date = iso_date(info["date_text"])
            meta.date_text = info["date_text"]
        meta.place = meta.place or info.get("place")
        meta.time = meta.time or info.get("time")
    meta.salutation = meta.salutation or info.get("salutation")
    # Tail: closing and signature (before any attachment, else at the end).
    tail_end = body_end
    att = re.search(r"^[ \t]*(?:#{1,4}[ \t]*)?(?:Attachment|Enclosure|Annex|Tab\s+[A-Z])\b[^\n]{0,40}$",
                    text[body_start:body_end], re.M)
    if att:
        tail_end = body_start + att.start()
    _, closing, signer = _tail(text, body_start, tail_end, structure)
    meta.closing = closing
    meta.signature = signer
    # Relayed texts.
    meta.embedded = _embedded(text, body_start, body_end, structure, meta)
    # Kind, authors, recipients.
    title = meta.title or ""
    meta.kind = meta.kind or kind_of(title) or ("letter" if meta.salutation else None)
    if not meta.authors and not meta.recipients:
        authors, recipients = title_parties(title)
        meta.authors, meta.recipients = authors, recipients
    if not meta.participants:
        meta.participants = title_between(title)
    person_authors = [p for p in meta.authors if p.get("kind") == "person" and p.get("name")]
    routed = info.get("routed_from")
    routed_to = info.get("routed_to")
    signer_name = _sig_name(signer)
    if meta.author is None:
        if routed:
            meta.author = routed  # "For Kennan from Thompson.": Thompson wrote it, whoever signed
        elif person_authors:
            meta.author = person_authors[0]["name"]
        elif signer_name:
            meta.author = signer_name
        elif meta.authors and meta.authors[0].get("name"):
            meta.author = meta.authors[0]["name"]
        elif meta.kind == "memorandum of conversation" and _first_person(text, body_start, body_end):
            # a record written in the first person ("I told him …"): its drafter is its "I", else
            # the first party of a title "… Between A and B"
            between = [p["name"] for p in title_between(title) if p.get("name") and p["kind"] == "person"]
            meta.author = _drafter(meta.source_note) or (between[0] if between else None)
    if meta.recipient is None:
        rec = next((p.get("name") or p.get("role") for p in meta.recipients if p.get("name") or p.get("role")), None)
        meta.recipient = rec or routed_to
    structure.sort()
    merged: list[tuple[int, int]] = []
    for s, e in structure:
        if s >= e:
            continue
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    meta.structure_spans = merged


_STRUCTURE_Q = re.compile(
    r"\b(?:when|where|from\s+where)\s+(?:was|were|is|did)\b[^?]*\b(?:letter|telegram|cable|memorandum|memo|message|"
    r"note|report|document|reply|dispatch|it)\b[^?]*\b(?:sent|written|dated|signed|drafted|received|delivered|"
    r"issued|send|write|sign|date)\b"
    r"|\b(?:date|dateline|place|signature|salutation|addressee)\s+of\s+(?:the|this|that|his|her|their)\s+\w+"
    r"|\bwho\s+signed\b|\bhow\s+(?:did|does)\s+\w+\s+(?:address|greet|sign)\b",
    re.I,
)


def asks_for_structure(question: str) -> bool:
    """Does the question ask for a document's furniture (its date, place, signature, salutation)?
    Only then are structure lines (datelines, signatures …) candidate answers."""
    return bool(_STRUCTURE_Q.search(question or ""))


def iter_texts(meta: DocumentMeta) -> Iterator[tuple[int, int, Optional[str]]]:
    """(start, end, author) of each relayed text, innermost last."""
    for e in meta.embedded or []:
        yield int(e["start"]), int(e["end"]), e.get("author")
