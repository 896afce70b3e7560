"""Constraints on documents: when, what kind, by whom, to whom.

A question can name its documents instead of its topic: "in his letter of October 26, 1962",
"the telegram from Belgrade of June 2", "Kennedy's reply", "what did Khrushchev write". Those
words are not to be matched against sentences (they would match the document's dateline); they
say which documents the answer comes from. `Constraints.from_question` reads them, explicit
options (`--from/--to/--author/--recipient/--kind`, `Archive.ask(constraints=…)`) give them
directly, and `matches(meta)` tells for one document "yes", "no" or "unknown" (the document does
not say: no date, no author).

Explicit constraints are certain, so they filter. Constraints read from a question filter only
when certain too (an exact day that some document carries); otherwise they re-weight candidates.
"""
from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Iterable, Optional

from .types import DocumentMeta

YES, NO, UNKNOWN = "yes", "no", "unknown"

_MONTH_NAMES = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_MONTH_NAMES.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
_MONTH_NAMES["sept"] = 9
_MONTH = r"(?P<month>January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?"
_YEAR = r"(?P<year>1[5-9]\d\d|20\d\d)"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
# Most specific first; each alternative is tried at every position.
_DATE_FORMS = [
    re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b"),
    re.compile(rf"\b{_DAY}\s+{_MONTH},?\s+{_YEAR}\b"),
    re.compile(r"\b(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})\b"),
    re.compile(rf"\b{_MONTH},?\s+{_YEAR}\b"),
    re.compile(rf"\b{_MONTH}\s+{_DAY}\b(?!\s*(?:[,:]\s*)?\d{{3}})"),
    re.compile(rf"\b{_DAY}\s+{_MONTH}\b"),
    re.compile(rf"(?<![\w:.-]){_YEAR}\b(?![:.,]?\d)"),
]
_BEFORE = re.compile(r"\b(?:before|prior\s+to|until|till|up\s+to)\s+(?:the\s+)?$", re.I)
_AFTER = re.compile(r"\b(?:after|since|following|between)\s+(?:the\s+)?$", re.I)
# A bare year is a date only after words that introduce one ("in 1965", "the 1968 summary"),
# never a count ("1500 men").
_YEAR_CONTEXT = re.compile(r"\b(?:in|of|during|since|after|before|until|till|by|from|between|and|to|the|early|late|mid|spring|summer|autumn|fall|winter)[\s-]+$", re.I)
_AND = re.compile(r"\b(?:and|to|until)\s+(?:the\s+)?$", re.I)

# Document kinds as questions name them, each with the kinds (qa.anatomy) it stands for.
KINDS = (
    "letter", "telegram", "memorandum of conversation", "memorandum", "message", "note", "editorial note",
    "report", "minutes", "speech", "telephone conversation",
)
_KIND_WORDS = [
    ("editorial note", r"editorial\s+note", ("editorial note",)),
    ("memorandum of conversation", r"memorandum\s+of\s+(?:the\s+|a\s+|their\s+|his\s+)?conversation|memcon|record\s+of\s+(?:the\s+)?conversation",
     ("memorandum of conversation",)),
    ("telephone conversation", r"telephone\s+(?:conversation|call)", ("telephone conversation",)),
    ("telegram", r"(?:circular\s+)?telegram|cable|airgram|despatch", ("telegram",)),
    ("letter", r"letter", ("letter", "message")),
    ("reply", r"reply|answer|response", ("letter", "message", "telegram", "note")),
    ("message", r"message", ("message", "letter", "telegram")),
    ("note", r"(?:diplomatic\s+)?note", ("note",)),
    ("minutes", r"minutes", ("minutes",)),
    ("memorandum", r"memorandum|memo", ("memorandum", "memorandum of conversation")),
    ("report", r"report|estimate|review|assessment", ("report",)),
    ("meeting", r"meeting|conversation|talk|talks|luncheon|lunch|dinner|session|discussion",
     ("memorandum of conversation", "minutes", "telephone conversation", "memorandum")),
    ("speech", r"speech|address|communiqu[ée]", ("speech",)),
]
_DETERMINER = r"(?:the|his|her|their|its|this|that|a|an|[A-Z][\w’'\-]*['’]s)"
_KIND_RES = [
    (name, re.compile(rf"\b(?i:{_DETERMINER})\s+(?:\S+\s+){{0,2}}?(?P<kind>(?i:{rx}))\b"), kinds)
    for name, rx, kinds in _KIND_WORDS
]
_KIND_ALIASES = {name: kinds for name, _, kinds in _KIND_WORDS}
_KIND_ALIASES.update({k: (k,) for k in KINDS})
_KIND_ALIASES.update({"memcon": ("memorandum of conversation",), "cable": ("telegram",)})

_NAME = r"(?P<name>(?:the\s+)?[A-Z][\w’'\-]+(?:\s+[A-Z][\w’'\-]+)*)"
_KIND_NOUN = r"(?:letter|reply|answer|response|telegram|cable|message|note|memorandum|report)"
_AUTHOR_PATTERNS = [
    re.compile(rf"\b{_NAME}['’]s\s+(?:\w+\s+){{0,2}}?(?i:{_KIND_NOUN})\b"),
    re.compile(rf"\b(?i:{_KIND_NOUN})s?\s+(?i:from|by)\s+{_NAME}"),
    re.compile(rf"\b(?i:did|does|has|had)\s+{_NAME}\s+(?i:write|wrote|written|cable|cabled|telegraph|telegraphed|wire|wired)\b"),
    re.compile(rf"\b{_NAME}\s+(?i:wrote|cabled|telegraphed|wired)\b"),
]
_RECIPIENT_PATTERNS = [
    re.compile(rf"\b(?i:{_KIND_NOUN})s?\s+(?:(?i:from)\s+[A-Z][\w’'\-]+(?:\s+[A-Z][\w’'\-]+)*\s+)?(?i:to)\s+{_NAME}"),
    re.compile(rf"\b(?i:write|wrote|written|cable|cabled|telegraph|telegraphed|wire|wired)\s+(?i:to)\s+{_NAME}"),
]


class BadConstraint(ValueError):
    """An explicit constraint that cannot be read (a month 13, an unknown kind)."""


@dataclass(frozen=True)
class DateSpan:
    """An inclusive range of days; `text` is what was written."""

    lo: dt.date
    hi: dt.date
    text: str = ""


def parse_date(value: str, end: bool = False) -> dt.date:
    """An ISO date or partial date ("1961", "1961-04", "1961-04-12") as the first day it covers,
    or with `end` the last. Raises BadConstraint naming the problem."""
    v = (value or "").strip()
    m = re.fullmatch(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", v)
    if not m:
        raise BadConstraint(f"{value!r} is not a date (use YYYY, YYYY-MM or YYYY-MM-DD)")
    year, month, day = int(m.group(1)), m.group(2), m.group(3)
    if month is not None and not 1 <= int(month) <= 12:
        raise BadConstraint(f"{value!r} is not a date: there is no month {int(month)}")
    try:
        if month is None:
            return dt.date(year, 12, 31) if end else dt.date(year, 1, 1)
        mo = int(month)
        if day is None:
            return dt.date(year, mo, calendar.monthrange(year, mo)[1]) if end else dt.date(year, mo, 1)
        return dt.date(year, mo, int(day))
    except ValueError:
        raise BadConstraint(f"{value!r} is not a date: there is no day {int(day)} in {calendar.month_name[int(month)]} {year}") from None


def doc_span(meta: DocumentMeta) -> Optional[DateSpan]:
    """The days a document's (ISO, possibly partial) date covers."""
    if not meta.date:
        return None
    try:
        return DateSpan(parse_date(meta.date), parse_date(meta.date, end=True), meta.date)
    except BadConstraint:
        return None


def parse_kind(value: str) -> str:
    v = re.sub(r"\s+", " ", (value or "").strip().lower())
    if v not in _KIND_ALIASES:
        raise BadConstraint(f"{value!r} is not a document kind (one of: {', '.join(KINDS)})")
    return v


@dataclass
class Constraints:
    """What a question (or the user, explicitly) says about the documents an answer may come from."""

    date_from: Optional[dt.date] = None  # inclusive
    date_to: Optional[dt.date] = None  # inclusive
    month_day: Optional[tuple[int, int]] = None  # a day named without its year ("on June 3")
    authors: list[str] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)  # as named ("letter", "reply", "memorandum")
    explicit: set[str] = field(default_factory=set)  # fields given as options: certain, so filters
    spans: list[tuple[int, int]] = field(default_factory=list)  # where the question said them
    date_text: Optional[str] = None  # the date as the question wrote it

    # -- building --------------------------------------------------------------------------------
    @classmethod
    def explicit_options(
        cls,
        date_from: Optional[str] = None,
        date_to: Optional[str] = None,
        authors: Iterable[str] = (),
        recipients: Iterable[str] = (),
        kinds: Iterable[str] = (),
    ) -> "Constraints":
        """From option values (strings); raises BadConstraint with a message naming the bad value."""
        c = cls()
        if date_from:
            c.date_from = parse_date(date_from)
            c.explicit.add("date")
        if date_to:
            c.date_to = parse_date(date_to, end=True)
            c.explicit.add("date")
        if c.date_from and c.date_to and c.date_from > c.date_to:
            raise BadConstraint(f"--from {date_from} is after --to {date_to}")
        for name, values in (("authors", authors), ("recipients", recipients)):
            vals = [v.strip() for v in values or () if v is not None]
            for v in vals:
                if not v:
                    raise BadConstraint(f"an empty --{name[:-1]} name")
            if vals:
                setattr(c, name, vals)
                c.explicit.add(name)
        ks = [parse_kind(k) for k in kinds or ()]
        if ks:
            c.kinds = ks
            c.explicit.add("kinds")
        return c

    @classmethod
    def from_question(cls, question: str, people: Iterable[str] = ()) -> "Constraints":
        """Dates, kinds, authors and recipients named in a question. `people` are the name forms
        the archive knows (lowercase); a name the archive does not know is no constraint."""
        c = cls()
        c._read_dates(question)
        for name, rx, _kinds in _KIND_RES:
            for m in rx.finditer(question):
                if any(s <= m.start("kind") < e for s, e in c.spans):
                    continue  # "memorandum of conversation" is not also a "memorandum"
                if name not in c.kinds:
                    c.kinds.append(name)
                if name not in ("reply", "meeting"):  # words of the topic too ("this meeting")
                    c.spans.append((m.start("kind"), m.end("kind")))
        known = {p.lower() for p in people}
        for target, patterns in (("authors", _AUTHOR_PATTERNS), ("recipients", _RECIPIENT_PATTERNS)):
            for rx in patterns:
                for m in rx.finditer(question):
                    name = _known_name(m.group("name"), known)
                    if name and name not in getattr(c, target):
                        getattr(c, target).append(name)
        return c

    def _read_dates(self, q: str) -> None:
        """The first date the question names is its documents' date ("In the telegram of June 2,
        1961, what did he say happened on 12 June?": the 12th is the topic); dates after "before",
        "after" or "since" narrow it to a period."""
        found: list[tuple[re.Match, tuple]] = []
        taken: list[tuple[int, int]] = []
        for rx in _DATE_FORMS:
            for m in rx.finditer(q):
                if any(s < m.end() and m.start() < e for s, e in taken):
                    continue
                span = _span_of(m)
                if span is not None and span[0] is not None and "month" not in m.re.groupindex:
                    if not _YEAR_CONTEXT.search(q[: m.start()]):
                        continue
                if span is not None:
                    taken.append((m.start(), m.end()))
                    found.append((m, span))
        found.sort(key=lambda f: f[0].start())
        point = False
        for m, (lo, hi, md) in found:
            head = q[: m.start()]
            before = _BEFORE.search(head)
            after = _AFTER.search(head)
            if after and after.group(0).lower().startswith("between"):
                self._narrow(lo, None) if lo else None  # "between April 1961 and June 1961": inclusive
                after = None
                if lo is None:
                    continue
                point = True
            elif _AND.search(head) and self.date_from and not self.date_to and lo:
                self._narrow(None, hi)
                before = after = None
            elif lo is None:  # a day without a year
                if before or after or point or self.date_from or self.date_to:
                    continue
                self.month_day = md
                point = True
            elif before:
                self._narrow(None, lo - dt.timedelta(days=1))
            elif after:
                self._narrow(hi + dt.timedelta(days=1), None)
            elif point:
                continue
            else:
                self._narrow(lo, hi)
                point = True
            self.spans.append((m.start(), m.end()))
            self.date_text = (self.date_text + "; " if self.date_text else "") + m.group(0)

    def _narrow(self, lo: Optional[dt.date], hi: Optional[dt.date]) -> None:
        if (lo or dt.date.min) > (self.date_to or dt.date.max) or (hi or dt.date.max) < (self.date_from or dt.date.min):
            return  # a contradiction ("after 1963, before 1961"): keep what came first
        if lo and (self.date_from is None or lo > self.date_from):
            self.date_from = lo
        if hi and (self.date_to is None or hi < self.date_to):
            self.date_to = hi

    def merge(self, explicit: Optional["Constraints"]) -> "Constraints":
        """This (question's) constraints with explicit ones on top: an explicit field replaces the
        question's."""
        if explicit is None or not explicit:
            return self
        out = Constraints(
            self.date_from, self.date_to, self.month_day, list(self.authors), list(self.recipients), list(self.kinds),
            set(self.explicit) | set(explicit.explicit), list(self.spans), self.date_text,
        )
        if "date" in explicit.explicit:
            out.date_from, out.date_to, out.month_day = explicit.date_from, explicit.date_to, None
            out.date_text = None
        for name in ("authors", "recipients", "kinds"):
            if name in explicit.explicit:
                setattr(out, name, list(getattr(explicit, name)))
        return out

    def __bool__(self) -> bool:
        return bool(self.date_from or self.date_to or self.month_day or self.authors or self.recipients or self.kinds)

    # -- matching --------------------------------------------------------------------------------
    def match_fields(self, meta: DocumentMeta, only: Optional[set[str]] = None) -> dict[str, str]:
        """Per constraint field ("date", "authors", "recipients", "kinds"): yes / no / unknown."""
        out: dict[str, str] = {}
        want = only or {"date", "authors", "recipients", "kinds"}
        if "date" in want and (self.date_from or self.date_to or self.month_day):
            out["date"] = self._match_date(meta)
        if "authors" in want and self.authors:
            out["authors"] = _match_people(self.authors, _people(meta, "authors"))
        if "recipients" in want and self.recipients:
            out["recipients"] = _match_people(self.recipients, _people(meta, "recipients"))
        if "kinds" in want and self.kinds:
            out["kinds"] = self._match_kind(meta)
        return out

    def matches(self, meta: DocumentMeta, only: Optional[set[str]] = None) -> str:
        """yes (every constraint holds), no (one fails) or unknown (the document does not say)."""
        return combine(self.match_fields(meta, only).values())

    def _match_date(self, meta: DocumentMeta) -> str:
        span = doc_span(meta)
        if span is None:
            return UNKNOWN
        verdicts = []
        if self.date_from or self.date_to:
            lo = self.date_from or dt.date.min
            hi = self.date_to or dt.date.max
            if span.hi < lo or span.lo > hi:
                verdicts.append(NO)
            else:
                verdicts.append(YES if lo <= span.lo and span.hi <= hi else UNKNOWN)
        if self.month_day:
            if span.lo == span.hi:
                verdicts.append(YES if (span.lo.month, span.lo.day) == self.month_day else NO)
            elif span.lo.month == span.hi.month:
                verdicts.append(UNKNOWN if span.lo.month == self.month_day[0] else NO)
            else:
                verdicts.append(UNKNOWN)
        return combine(verdicts)

    def _match_kind(self, meta: DocumentMeta) -> str:
        kinds = {meta.kind} | {e.get("kind") for e in meta.embedded or []}
        kinds.discard(None)
        if not kinds:
            return UNKNOWN
        allowed = {k for name in self.kinds for k in _KIND_ALIASES.get(name, (name,))}
        return YES if kinds & allowed else NO

    def exact_day(self) -> bool:
        """The question names one day (with or without its year)."""
        if self.month_day:
            return True
        return bool(self.date_from and self.date_to and self.date_from == self.date_to)

    # -- showing ---------------------------------------------------------------------------------
    def to_json(self) -> dict:
        out: dict = {}
        if self.date_from or self.date_to:
            out["from"] = self.date_from.isoformat() if self.date_from else None
            out["to"] = self.date_to.isoformat() if self.date_to else None
        if self.month_day:
            out["day"] = f"--{self.month_day[0]:02d}-{self.month_day[1]:02d}"  # ISO 8601 without a year
        if self.authors:
            out["authors"] = list(self.authors)
        if self.recipients:
            out["recipients"] = list(self.recipients)
        if self.kinds:
            out["kinds"] = list(self.kinds)
        out["explicit"] = sorted(self.explicit)
        return out

    def describe(self) -> str:
        """One line for people: "dated 1962-10-26; by Kennedy; a letter"."""
        parts = []
        if self.date_from and self.date_to and self.date_from == self.date_to:
            parts.append(f"dated {self.date_from.isoformat()}")
        elif self.date_from or self.date_to:
            lo = self.date_from.isoformat() if self.date_from else "…"
            hi = self.date_to.isoformat() if self.date_to else "…"
            parts.append(f"dated {lo} to {hi}")
        if self.month_day:
            parts.append(f"dated {calendar.month_name[self.month_day[0]]} {self.month_day[1]}")
        if self.authors:
            parts.append("by " + " or ".join(self.authors))
        if self.recipients:
            parts.append("to " + " or ".join(self.recipients))
        if self.kinds:
            parts.append("kind: " + " or ".join(self.kinds))
        return "; ".join(parts)


def combine(verdicts: Iterable[str]) -> str:
    vs = list(verdicts)
    if NO in vs:
        return NO
    if vs and all(v == YES for v in vs):
        return YES
    return UNKNOWN if vs else YES


def _span_of(m: re.Match) -> Optional[tuple[Optional[dt.date], Optional[dt.date], Optional[tuple[int, int]]]]:
    g = m.groupdict()
    month = g.get("month")
    mo = (int(month) if month.isdigit() else _MONTH_NAMES.get(month.lower().rstrip("."))) if month else None
    day = int(g["day"]) if g.get("day") else None
    year = int(g["year"]) if g.get("year") else None
    if month and mo is None:
        return None
    try:
        if year is None:
            if not (mo and day) or day > calendar.monthrange(2000, mo)[1]:
                return None
            return None, None, (mo, day)
        if mo is None:
            return dt.date(year, 1, 1), dt.date(year, 12, 31), None
        if day is None:
            return dt.date(year, mo, 1), dt.date(year, mo, calendar.monthrange(year, mo)[1]), None
        d = dt.date(year, mo, day)
        return d, d, None
    except ValueError:
        return None


def _known_name(raw: str, known: set[str]) -> Optional[str]:
    """The name as written, when the archive knows it (whole, without "the", or by its last word)."""
    name = re.sub(r"^the\s+", "", raw.strip(), flags=re.I)
    low = name.lower()
    for form in (raw.lower(), low, "the " + low):
        if form in known:
            return name
    parts = low.split()
    if parts and parts[-1] in known:
        return name
    return None


def _people(meta: DocumentMeta, which: str) -> list[str]:
    """Every way the document names its authors (or recipients): names, roles, the header text."""
    out: list[str] = []
    single = meta.author if which == "authors" else meta.recipient
    if single:
        out.append(single)
    for p in getattr(meta, which) or []:
        out += [v for v in (p.get("name"), p.get("role"), p.get("text")) if v]
    key = "author" if which == "authors" else "recipient"
    for e in meta.embedded or []:
        v = e.get(key)
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict):
            out += [x for x in (v.get("name"), v.get("role"), v.get("text")) if x]
    return out


def _words(s: str) -> set[str]:
    return {w for w in re.findall(r"[a-z][a-z’'\-]+", s.lower().replace("’", "'")) if w not in {"the", "of", "mr", "mrs"}}


def _match_people(wanted: list[str], named: list[str]) -> str:
    if not named:
        return UNKNOWN
    for w in wanted:
        ww = _words(w)
        if ww and any(ww <= _words(n) for n in named):
            return YES
    return NO


def describe_json(obj: Optional[dict]) -> str:
    """`describe()` of a `to_json()` object (what an `Answer` carries), "" for none."""
    if not obj:
        return ""
    c = Constraints(
        date_from=dt.date.fromisoformat(obj["from"]) if obj.get("from") else None,
        date_to=dt.date.fromisoformat(obj["to"]) if obj.get("to") else None,
        month_day=tuple(int(x) for x in obj["day"][2:].split("-")) if obj.get("day") else None,
        authors=list(obj.get("authors") or []),
        recipients=list(obj.get("recipients") or []),
        kinds=list(obj.get("kinds") or []),
    )
    return c.describe()


_FILTER_KEYS = {"from": "date_from", "to": "date_to", "author": "authors", "recipient": "recipients", "kind": "kinds"}
_FILTER_RE = re.compile(r"(?P<key>[A-Za-z]+):\s*(?P<value>.*?)\s*(?=(?:\s[A-Za-z]+:)|$)")


def parse_filter(text: str) -> Constraints:
    """Explicit constraints typed as `from:1961-04 to:1961-06 author:Robert Kennedy kind:letter`
    (the TUI's filter box); the same rules and messages as the command-line options."""
    values: dict[str, list[str]] = {k: [] for k in _FILTER_KEYS.values()}
    text = (text or "").strip()
    pos = 0
    for m in _FILTER_RE.finditer(text):
        if text[pos : m.start()].strip():
            break
        key = m.group("key").lower()
        if key not in _FILTER_KEYS:
            raise BadConstraint(f"unknown filter {key + ':'!r} (use {', '.join(k + ':' for k in _FILTER_KEYS)})")
        if not m.group("value"):
            raise BadConstraint(f"{key}: needs a value")
        values[_FILTER_KEYS[key]].append(m.group("value"))
        pos = m.end()
    if text[pos:].strip():
        raise BadConstraint(f"cannot read {text[pos:].strip()!r} (write e.g. from:1961-04 author:Kennedy kind:letter)")
    for key in ("date_from", "date_to"):
        if len(values[key]) > 1:
            raise BadConstraint(f"{'from' if key == 'date_from' else 'to'}: given twice")
    return Constraints.explicit_options(
        values["date_from"][0] if values["date_from"] else None,
        values["date_to"][0] if values["date_to"] else None,
        values["authors"], values["recipients"], values["kinds"],
    )
