"""Speaker attribution: who speaks in each body sentence of a document.

Archival reports (telegrams, records of conversation, speeches) mostly *report* speech:
"Rusk said that ...", "..., declared Rusk, ...", "I answered ...", "As the President said, ...".
The rules are shallow on purpose (precompiled regexes, no parser), so indexing stays linear in
the number of sentences. Per body sentence, in order of precedence:

1. Inside a quotation that an earlier sentence opened (“ ” or "), the quotation's speaker; a
   quotation left open ends with its paragraph.
2. An explicit cue: a transcript label at a line start ("KHRUSHCHEV: ...", when a document has
   several); "As X said, ..." or "According to X, ..." (that sentence only: the running turn goes
   on); a parenthetical or inverted cue ("..., declared Rusk, ...", "..., I answered."), which wins
   over a subject-verb cue ("Rusk said that ...", "He then began to speak ..."), because "No matter
   how often Rusk repeats, I declared, ..." is governed by the inserted clause. Cues are only
   looked for outside quotation marks.
3. Author narration: negated speech ("Rusk did not respond"), talk *about* the conversation
   ("... the conversation ... ended"), evaluations ("it was evident that", "It is characteristic").
4. A person as subject with a past-tense verb: with a word of speech in the sentence he or she is
   the speaker ("He ended his argument by commenting ..."); without one it is the author's
   narration ("Kennedy managed to hide his feelings better."). "I" as a subject is the author.
5. Otherwise the running turn carries over (paragraph breaks do not end it).

Turns only carry over in a *conversation*: a document where the author reports his own speech
("I said ...") or at least two other people speak, or whose author is unknown. In a report or
speech that merely cites someone ("Cde. Khrushchev stated that ..."), the cited person gets the
cue's sentence (and any quotation it opens) and all other text is the author's.

Names: X is a surname, a full or titled name ("Dean Rusk", "N.S. Khrushchev", "Cde. Khrushchev",
"Secretary of State Dean Rusk" -> "Rusk"), a pronoun (I -> the document's author; he/she -> the
most recent third person who was a *subject*, so "He said" after "Rusk, continuing my
conversation with Kennedy, touched on ..." is Rusk, not Kennedy) or a title phrase ("the
President"). Title phrases resolve, in order, through the document's sidecar aliases, titled
names in the document itself (the latest "President Kennedy" before the phrase, else the first
after it), the corpus alias file, and finally - only when the phrase is the subject of a speech
cue or clause - the current conversation partner (the latest other speaker): in a record of a
conversation with Rusk, "the Secretary of State said" is Rusk even if no sentence spells out
"Secretary of State Rusk". Unresolved, a title phrase gives no speaker.

Speakers are canonical surnames as written in the text ("Rusk", "de Gaulle"); an alias value is
used as given. The alias value "<author>" stands for the document's author ("the undersigned").
"""
from __future__ import annotations

import os
import re
from bisect import bisect_right
from pathlib import Path
from typing import Callable, Optional

from .segment import line_break_view
from .types import Document, Sentence

SPEAKER_VERSION = "4"  # 2: anatomy (participants, relayed texts, institution authors); 3: people (full names); 4: lone-CR line starts

AUTHOR = "<author>"  # alias value meaning "the document's author"
# Deliberately tiny: only phrases that mean the same in every archive. Titles ("the President")
# name different people in different corpora; put them in CORPUS/aliases.json or a sidecar.
DEFAULT_ALIASES: dict[str, str] = {
    "the undersigned": AUTHOR,
    "the writer": AUTHOR,
}
ALIAS_FILES = ("aliases.json", ".qa/aliases.json")  # the later file wins on conflicts

# ---------------------------------------------------------------------------------------------
# Vocabulary
_UP = "A-ZÀ-ÖØ-ÞА-ЯЁ"
_LO = "a-zß-öø-ÿа-яё"
_WS = r"(?:[ \t]+\n?[ \t]*|\n[ \t]*)"  # spaces or one line break, never a blank line
# A capitalised word: Rusk, O'Brien, McNamara, Smith-Jones. Acronyms (USA, CC) are not names.
_CAPW = rf"(?:[{_UP}][’'])?[{_UP}][{_LO}]+(?:[{_UP}][{_LO}]+)?(?:-[{_UP}][{_LO}]+)*\b"
_NAME = rf"(?:(?:[{_UP}]\.[ \t]?){{1,3}}[ \t]*|{_CAPW}[ \t]+(?:[{_UP}]\.[ \t]+)?){{0,2}}{_CAPW}"

TITLE_WORDS = (
    "President Vice-President Secretary Secretary-General Undersecretary Under-Secretary Ambassador "
    "Minister Chairman Chairwoman General Premier Senator Marshal Admiral Colonel Commander Governor "
    "Chancellor King Queen Prince Princess Pope Consul Envoy Mayor Counselor Counsellor Director "
    "Deputy Representative Congressman Congresswoman Commissar Captain Major Lieutenant Justice "
    "Judge Emperor Shah Sheikh Professor Chief Delegate Chargé Attaché Academician Bishop Cardinal"
).split()
HONORIFICS = ("Cde.", "Comrade", "Mr.", "Mr", "Mrs.", "Mrs", "Ms.", "Dr.", "Sir", "Prof.", "Herr",
              "Monsieur", "Madame", "Mme.", "Mister", "Tov.", "Citizen")
_TITLE = "(?:" + "|".join(sorted(TITLE_WORDS, key=len, reverse=True)) + r")\b"
_HONOR = "(?:" + "|".join(re.escape(h) for h in sorted(HONORIFICS, key=len, reverse=True)) + r")(?!\w)"
_TITLE_SET = {t.lower() for t in TITLE_WORDS}
_HONOR_SET = {h.lower().rstrip(".") for h in HONORIFICS}
_THE_OR_TITLE = _TITLE_SET | {"the"}
# Second words of an office in "Minister of Foreign Affairs", "President of the United States".
_INST = (
    r"(?:Affairs|Defen[cs]e|Ministers|Nations|States|Relations|Trade|Security|Council|Committee|Staff|"
    r"Forces|Union|Kingdom|Republic|Department|Office|Commerce|Agriculture|Interior|Justice|Treasury|"
    r"Health|Labou?r|Culture|Education)"
)
_OFWORD = rf"(?:{_CAPW}|[A-Z]{{2,6}})"
_OFTAIL = rf"(?:[ \t]+of[ \t]+(?:the[ \t]+)?{_OFWORD}(?:[ \t]+{_INST})*){{1,3}}"
_MODS = rf"(?:(?:{_CAPW}|[A-Z][A-Z.]{{1,5}})[ \t]+){{0,2}}"
_PRON = r"\b(?:I|[Hh]e|[Ss]he)\b"
# Lowercase phrases of the built-in table ("the undersigned") are mentions too; capitalised alias
# phrases ("Uncle Joe") are already found as names, and title phrases as titles.
_SELF = r"\b[Tt]he" + _WS + "(?:" + "|".join(re.escape(k[4:]) for k in DEFAULT_ALIASES) + r")\b"
# A mention of a person, never followed by a possessive ("Rusk's reasoning" is not a subject).
_PERSON = (
    rf"\b(?=[{_UP}hst])(?:(?:\b[Tt]he{_WS})?{_MODS}(?:{_TITLE}(?:{_OFTAIL})?|{_HONOR}){_WS}{_NAME}"
    rf"|\b[Tt]he{_WS}{_MODS}{_TITLE}(?:{_OFTAIL})?"
    rf"|{_PRON}|{_SELF}"
    rf"|\b{_NAME})(?![’']s\b)"
)
# The same, with groups telling the kinds apart (used on a mention already found).
_PERSON_KIND = re.compile(
    rf"(?P<titled>(?:[Tt]he{_WS})?{_MODS}(?:(?P<tp>{_TITLE}(?:{_OFTAIL})?)|{_HONOR}){_WS}(?P<tn>{_NAME}))"
    rf"|(?P<title>[Tt]he{_WS}(?P<tt>{_MODS}{_TITLE}(?:{_OFTAIL})?))"
    rf"|(?P<pron>I|[Hh]e|[Ss]he)|(?P<alias>{_SELF})|(?P<name>{_NAME})"
)
_TITLED_RE = re.compile(rf"\b{_MODS}(?P<tp>{_TITLE}(?:{_OFTAIL})?){_WS}(?P<tn>{_NAME})(?![’']s\b)")

_ADV = (
    r"(?:[a-z]+ly|also|again|further|then|too|even|only|still|now|here|there|thereupon|once|first|"
    r"finally|later|soon|however|nonetheless|nevertheless|immediately|"
    rf"in{_WS}(?:fact|passing|turn|response|reply|addition|particular)|at{_WS}(?:this|that){_WS}point|at{_WS}once)"
)
# Verbs that, right after their subject, report speech. Past tense: reports narrate in the past,
# and present-tense forms ("I categorically assert") occur inside the reported speech itself.
_VERBS = (
    r"(?:said|says|declared|announced|noted|asked|agreed|stressed|answered|replied|complained|observed|"
    r"stated|remarked|added|insisted|emphasi[sz]ed|assured|asserted|repeated|pointed{_WS}out|responded|"
    r"objected|proposed|suggested|explained|commented|continued|told|warned|argued|claimed|mentioned|"
    r"recalled|underlined|underscored|reiterated|confirmed|acknowledged|admitted|affirmed|maintained|"
    r"inquired|enquired|urged|retorted|countered|exclaimed|concluded|promised|informed|reported|"
    r"spoke|touched{_WS}(?:on|upon)|brought{_WS}up|raised|"
    r"let{_WS}(?:him|her|them|us|me|{_CAPW}){_WS}(?:know|understand)|"
    r"let{_WS}it{_WS}be{_WS}(?:known|understood)|"
    r"(?:began|started|tried|went{_WS}on|wanted|sought){_WS}to{_WS}(?:speak|talk|say|assert|argue|explain|"
    r"stress|emphasi[sz]e|insist|discuss|defend|justify|prove|show|convince))\b"
).replace("{_WS}", _WS).replace("{_CAPW}", _CAPW)

# Inverted order ("..., declared Rusk, ...") only occurs with verbs of saying proper; "raised" or
# "told" before a name take it as their object ("..., raised Berlin.").
_INV_VERBS = (
    r"(?:said|declared|announced|noted|asked|agreed|stressed|answered|replied|complained|observed|stated|"
    r"remarked|added|insisted|emphasi[sz]ed|asserted|repeated|responded|objected|explained|commented|"
    r"continued|warned|argued|retorted|countered|exclaimed|concluded|inquired|enquired)\b"
)
# "As the President said, ..." / "According to Rusk, ...": one sentence relayed inside a turn.
_AS_RE = re.compile(
    rf"^[\s\"“(]*(?:(?:And|But|So|Yet){_WS})?(?:[Aa]s{_WS}(?P<subj>{_PERSON})"
    rf"(?:{_WS}(?:has|had|have))?(?:{_WS}{_ADV}){{0,2}}{_WS}{_VERBS}"
    rf"|[Aa]ccording{_WS}to{_WS}(?P<subj2>{_PERSON})[ \t]*,)"
)
# Transcript speaker labels at the start of a line: "Khrushchev: ...", "N.S. KHRUSHCHEV: ...".
_LABEL_RE = re.compile(
    rf"^[ \t*_#>-]*(?P<subj>{_PERSON}|(?:[A-Z]\.[ \t]?){{0,3}}[A-Z][A-Z’'\-]+(?:[ \t]+[A-Z][A-Z’'\-]+)?)"
    rf"[ \t*_]*(?:\([^)\n]{{0,40}}\)[ \t*_]*)?:[ \t*_]*\S"
)
_PAREN_RE = re.compile(
    rf"(?:^|[,;:—–(]|--)[\"”]?[ \t]*(?:{_INV_VERBS}{_WS}(?P<subj1>{_PERSON})"
    rf"|(?P<subj2>{_PERSON})(?:{_WS}{_ADV}){{0,2}}{_WS}{_VERBS})"
    rf"(?:{_WS}(?:to|with){_WS}(?:{_PERSON}|him|her|me|us|them))?[ \t]*(?=[,;:.!?—–)\"”]|--|$)"
)
_SV_RE = re.compile(
    rf"\b(?=[{_UP}hst])(?P<subj>{_PERSON})(?:,[^,;:.!?\n]{{1,80}},)?"  # "Rusk, continuing ..., touched on"
    rf"(?:{_WS}(?:has|had|have))?(?:{_WS}{_ADV}){{0,3}}{_WS}{_VERBS}"
)
_PERSON_RE = re.compile(_PERSON)
# What follows a subject: an optional appositive, adverbs, then the verb (and the word after it).
_AFTER_RE = re.compile(
    rf"(?:,[^,;:.!?\n]{{1,80}},)?(?:{_WS}{_ADV}){{0,3}}{_WS}(?P<v>[\w’']+)(?:{_WS}(?P<v2>[\w’']+))?"
)
_IRREGULAR_PAST = set(
    """was were had did sat gave took made began went came kept left felt saw knew thought brought stood
    spoke got became seemed said told found held put set let ran rose sought wrote heard meant drew fell
    led lost met sent spent understood won withdrew broke chose hid threw shook""".split()
)
_NEG_AUX = {"did", "could", "would", "was", "were", "had"}
# Any form of a speech word (verbs and discourse nouns): "He ended his argument by commenting ...".
_SPEECH_WORD_RE = re.compile(
    r"\b(?=[a-z])(?:say|says|said|saying|declar\w*|announc\w*|not(?:ed|ing)|ask\w*|agree\w*|stress\w*|answer\w*|"
    r"repl\w*|complain\w*|observ\w*|stat(?:ed|ing|ement\w*)|remark\w*|insist\w*|emphasi\w*|assur\w*|"
    r"assert\w*|repeat\w*|point(?:ed|ing)\s+out|respon\w*|object(?:ed|ing|ion\w*)|propos\w*|suggest\w*|"
    r"explain\w*|comment\w*|told|tell\w*|warn\w*|argu\w*|claim\w*|mention\w*|recall\w*|reiterat\w*|"
    r"confirm\w*|acknowledg\w*|admit\w*|spoke|speak\w*|talk\w*|touch(?:ed|ing)\s+(?:on|upon)|"
    r"brought\s+up|rais(?:ed|ing)|express\w*|defend\w*|example|issue|question|subject|topic|"
    r"reasoning|position|views?|opinion|thought|idea)\b"
)
# The author talking about the conversation itself, or judging it, is narration.
_NARRATION_RE = re.compile(
    r"\b(?:conversations?|meeting|interview)\b"
    r"|\b(?:it|this)\s+(?:was|is|became|seemed)\s+(?:\w+\s+)?(?:evident|clear|obvious|characteristic|"
    r"noteworthy|notable|apparent|possible\s+to\s+(?:observe|see|note))\b"
    r"|\bsilen(?:t|tly|ce)\b",
    re.I,
)
# A capitalised word is only a subject when what precedes it lets it be one ("Having heard Rusk
# out" and "with Rusk" are objects). Pronouns are nominative, so they always are.
_SUBJECT_AFTER = set(
    """that and but while when whereas if because since although though so then whether where once also
    here now again suddenly yet nor or""".split()
)
_NOT_SUBJECT_AFTER = set(
    """the a an of to with by for from about on at in into toward towards against than like unlike upon
    over under between among behind via""".split()
)
# Capitalised words that are never a person's surname.
_NAME_STOP = set(
    """The This That These Those It Its They We You He She His Her Our Their There Here But And Or Yes No
    However Moreover Also So Then Thus Still Now Perhaps Maybe Besides Further Furthermore Regarding As In On
    At To For With Without From After Before If When While Although Overall All Any Some Every Each One Both
    Even Only Nor Not Having Responding According Soviet American January February March April May June July
    August September October November December Monday Tuesday Wednesday Thursday Friday Saturday Sunday
    Assembly Committee Council Government Union States Nations Party Plan Doctrine Treaty Army Navy Ministry
    Department Office Embassy Republic Federation Kingdom Affairs Defense Defence Security Congress Senate
    House Court Conference Plenum Presidium Politburo Bureau Commission Administration Agency Forces Command
    Staff Hemisphere Europe Asia Africa America Charter Crisis War Cult Note Notes Subject Source Summary
    Contents Translation Citation Participants Present Place Time Date Copy Attachment Enclosure Distribution
    Secret Memorandum Telegram Letter Record Minutes Agenda Answer Question Comment Remarks Item Point
    Nobody Somebody Everybody Everyone Someone Anyone Anybody None Nothing Many Few Several Most Others Other
    Neither Either Such Another What Who Which Whoever Everything""".split()
)
_PARTICLES = {"de", "van", "von", "der", "da", "di", "du", "la", "le", "del", "bin", "al", "ten", "ter"}
_QUOTE_CHAR = re.compile(r"[\"“”]")
_BLANKABLE = re.compile(r"[^\s,;:.!?\"“”]")
_WORD_RE = re.compile(r"[^\W\d_]+(?:[-'’.][^\W\d_]+)*\.?")
_MAX_QUOTE_SENTENCES = 40  # an unbalanced quote must not swallow the rest of a document


# ---------------------------------------------------------------------------------------------
# Aliases and names

def _norm_key(phrase: str) -> str:
    return re.sub(r"\s+", " ", phrase.replace("’", "'")).strip().lower()


def _alias_get(table: dict[str, str], key: str) -> Optional[str]:
    """`key` is lowercase; tables may write the article or not ("the president" / "president")."""
    hit = table.get(key)
    if hit is None:
        hit = table.get(key[4:]) if key.startswith("the ") else table.get("the " + key)
    return hit


def load_aliases(corpus: Path, warn: Optional[Callable[[str], None]] = None) -> dict[str, str]:
    """Corpus-level alias table: lowercase alias phrase -> canonical speaker name.

    DEFAULT_ALIASES, then CORPUS/aliases.json, then CORPUS/.qa/aliases.json, each a JSON object
    such as {"the president": "Kennedy", "the secretary of state": "Rusk"}. An alias file is
    untrusted input: one that cannot be read (not a regular file inside the corpus, over 1 MB, not
    UTF-8 JSON, nested too deeply) or is not a JSON object is ignored, and entries that are not
    non-empty text are dropped; `warn` is told each time, naming the file (attribution must never
    stop indexing or answering).
    """
    from .documents import MAX_JSON_BYTES, parse_json, read_inside

    table = dict(DEFAULT_ALIASES)
    for rel in ALIAS_FILES:
        path = Path(corpus) / rel
        if not os.path.lexists(path):
            continue
        try:
            data = parse_json(read_inside(Path(corpus), path, MAX_JSON_BYTES, what="alias file"))
        except (OSError, ValueError) as exc:
            if warn:
                warn(f"alias file {rel} ignored: {exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}")
            continue
        if not isinstance(data, dict):
            if warn:
                warn(f"alias file {rel} ignored: it must hold a JSON object of \"phrase\": \"name\" entries")
            continue
        clean = _clean_table(data)
        if warn and len(clean) < len(data):
            bad = [k for k in data if not (isinstance(data[k], str) and data[k].strip() and k.strip())]
            if bad:
                warn(
                    f"alias file {rel}: entries {', '.join(repr(k) for k in bad[:5])}{' …' if len(bad) > 5 else ''} "
                    "are not non-empty text; those entries ignored"
                )
        table.update(clean)
    return table


def _clean_table(data) -> dict[str, str]:
    """Keys lowercased with single spaces; entries that are not non-empty strings are dropped
    (anything but a dict gives an empty table)."""
    if not isinstance(data, dict):
        return {}
    return {
        _norm_key(k): v.strip()
        for k, v in data.items()
        if isinstance(k, str) and isinstance(v, str) and k.strip() and v.strip()
    }


def _strip_possessive(s: str) -> str:
    return re.sub(r"(?:['’]s|(?<=s)['’])$", "", s)


def _title_lookup(words: list[str], tables: list[dict[str, str]]) -> Optional[str]:
    """Most specific match first: "soviet ambassador to the usa" ... "ambassador"."""
    heads = [i for i, w in enumerate(words) if w in _TITLE_SET]
    if not heads:
        return None
    h = heads[0]
    for table in tables:
        for i in range(h + 1):
            for j in range(len(words), h, -1):
                hit = _alias_get(table, " ".join(words[i:j]))
                if hit is not None:
                    return hit
    return None


def canonical_speaker(name: str, aliases: dict[str, str]) -> str:
    """Normalise a mention to a surname: "Dean Rusk", "Rusk's", "Cde. Khrushchev",
    "N.S. Khrushchev" -> "Rusk"/"Khrushchev"; aliases apply to the whole mention, a title phrase
    ("the President") and the surname. An unknown title phrase is returned as written."""
    s = _strip_possessive(re.sub(r"\s+", " ", name).strip(" \t\n\"“”'‘’,;:"))
    if not s:
        return s
    key = _norm_key(s)
    hit = _alias_get(aliases, key)
    if hit is not None:
        return hit
    bare = s[4:] if key.startswith("the ") else s
    m = _PERSON_KIND.fullmatch("the " + bare)
    if m and m.group("title"):  # a bare title phrase: only an alias can name its holder
        hit = _title_lookup(m.group("tt").lower().split(), [aliases])
        return hit if hit is not None else s
    m = _PERSON_KIND.fullmatch(bare)
    if m and m.group("titled"):
        s = m.group("tn")  # "Secretary of State Dean Rusk" -> "Dean Rusk"
    words = s.split(" ")
    while words and words[-1].rstrip(".,").lower() in ("jr", "sr", "ii", "iii"):
        words.pop()
    caps = [i for i, w in enumerate(words) if w[:1].isupper()]
    # An institution written in capitals (CC CPSU) stays whole.
    if len(caps) > 1 and all(words[i].isupper() for i in caps):
        return " ".join(words[caps[0]:])
    for i in reversed(caps):
        w = words[i].strip(".,")
        bare = w.lower().rstrip(".")
        if re.fullmatch(rf"(?:[{_UP}]\.?)+", w) and len(caps) > 1 or bare in _TITLE_SET or bare in _HONOR_SET:
            continue  # an initial ("N.S."), a title or an honorific
        if i > 0 and words[i - 1].lower() in _PARTICLES:
            w = f"{words[i - 1]} {w}"
        hit = _alias_get(aliases, w.lower())
        return hit if hit is not None else w
    return s.capitalize() if len(words) == 1 and s.islower() else s


def speakers_in(question: str, known: set[str], aliases: dict[str, str]) -> list[str]:
    """Known speakers a question names, canonicalised, in order of mention ("Rusk's view",
    "what did the Secretary of State say" with an alias for it), case-insensitively."""
    by_lower = {k.lower(): k for k in known}
    words = [_strip_possessive(w).lower().rstrip(".") for w in _WORD_RE.findall(question)]
    out: list[str] = []
    i = 0
    while i < len(words):
        step = 1
        for n in range(min(6, len(words) - i), 0, -1):  # longest mention first
            phrase = " ".join(words[i:i + n])
            hit = _alias_get(aliases, phrase)
            if hit is None and n > 1 and words[i] in _THE_OR_TITLE:
                hit = _title_lookup([w for w in words[i:i + n] if w != "the"], [aliases])
            name = by_lower.get(hit.lower()) if hit else by_lower.get(phrase)
            if name:
                if name not in out:
                    out.append(name)
                step = n
                break
        i += step
    return out


# ---------------------------------------------------------------------------------------------
# Attribution

def _mask_quotes(text: str, inside: bool) -> tuple[str, bool, Optional[int]]:
    """Blank out quoted words (keeping punctuation and length) so cues are only found in the
    narrating text. Returns (masked, inside-after, end of a quote this sentence started inside)."""
    parts: list[str] = []
    pos = 0
    first_close = None
    started_inside = inside
    for m in _QUOTE_CHAR.finditer(text):
        ch = m.group()
        if inside and ch in "”\"":
            parts.append(_BLANKABLE.sub(" ", text[pos:m.start()]))
            pos, inside = m.start(), False
            if started_inside and first_close is None:
                first_close = m.end()
        elif not inside and ch in "“\"":
            parts.append(text[pos:m.start()])
            pos, inside = m.start(), True
    rest = text[pos:]
    parts.append(_BLANKABLE.sub(" ", rest) if inside else rest)
    return "".join(parts), inside, first_close


_PREV_WORD_RE = re.compile(r"(\S+)\s*$")


def _prev_word(text: str, start: int) -> str:
    m = _PREV_WORD_RE.search(text, max(0, start - 40), start)
    return m.group(1) if m else ""


def _usable_name(text: str, start: int, mention: str) -> bool:
    """A bare capitalised name can be a speaker unless it is a stopword or an object."""
    last = mention.split()[-1]
    if last in _NAME_STOP:
        return False
    return _prev_word(text, start).lower() not in _NOT_SUBJECT_AFTER


def _explicit_cue(masked: str, line_start: bool) -> Optional[tuple[str, str, int]]:
    """(kind, mention, offset) of the cue governing the sentence: "label", "as", "paren" or "sv"."""
    m = _LABEL_RE.match(masked) if line_start else None
    if m:
        mention = m.group("subj")
        if mention.replace(".", "").replace(" ", "").isupper() and mention != "I":
            mention = mention.title()  # "N.S. KHRUSHCHEV" -> "N.S. Khrushchev"
        kinds = _PERSON_KIND.fullmatch(mention)
        if kinds and not kinds.group("pron") and mention.split()[-1] not in _NAME_STOP:
            return "label", mention, m.start("subj")
    m = _AS_RE.match(masked)
    if m:
        g = "subj" if m.group("subj") is not None else "subj2"
        return "as", m.group(g), m.start(g)
    for rx, groups, kind in ((_PAREN_RE, ("subj1", "subj2"), "paren"), (_SV_RE, ("subj",), "sv")):
        for m in rx.finditer(masked):
            g = next(g for g in groups if m.group(g) is not None)
            mention, start = m.group(g), m.start(g)
            kinds = _PERSON_KIND.fullmatch(mention)
            if kinds and kinds.group("name") and not _usable_name(masked, start, mention):
                continue
            return kind, mention, start
    return None


class _DocState:
    """Per-document name resolution: aliases, in-text title links, pronouns, the last partner."""

    def __init__(self, doc: Document, aliases: dict[str, str], author: Optional[str] = None,
                 archive: Optional[dict[str, str]] = None, people: Optional[dict] = None):
        """`author` overrides the document's author (for a text relayed inside the document);
        `archive` is the archive's title table (see archive_titles), `people` its people
        (see people.archive_people)."""
        self.archive = archive or {}
        self.people = people or {}
        self.sidecar = _clean_table(doc.meta.aliases if isinstance(doc.meta.aliases, dict) else {})
        self.names = {**DEFAULT_ALIASES, **aliases, **self.sidecar}
        self.corpus = aliases
        # The people this document names in full (header and text): a bare surname two people of
        # the archive share is the one the document names.
        self.context: set[str] = set()
        if self.people:
            full = [p["name"] for p in list(doc.meta.participants or []) + list(doc.meta.authors or [])
                    + list(doc.meta.recipients or []) if isinstance(p, dict) and p.get("name")]
            full += [m.group("tn") for m in _TITLED_RE.finditer(doc.text)]
            for name in full:
                if len(name.split()) > 1:
                    who = self._full_person(name)
                    if who:
                        self.context.add(who)
        self.author = _author_speaker(doc, author or doc.meta.author, self.person)
        if self.author == AUTHOR:
            self.author = None
        # Titles of the people the document itself names with their office: its participants list
        # and its title ("Chairman Khrushchev", "Alexey Kosygin, Chairman of the Council of
        # Ministers"). A title two different people hold is ambiguous unless one of them is the
        # author (who says "I"): then it is the other ("the Ambassador" in an ambassador's memo).
        self.roles: dict[str, str] = {}
        self.unnamed_roles: dict[str, str] = {}  # "The President" listed without a name
        holders: dict[str, set[str]] = {}
        unnamed_people: list[tuple[str, list[str]]] = []
        meta = doc.meta
        people = [p for p in list(meta.participants or []) + list(meta.authors or []) + list(meta.recipients or [])
                  if isinstance(p, dict) and p.get("kind", "person") == "person"]
        for p in people:
            role = p.get("role") or ""
            if not role:
                continue
            keys = _title_keys(role.split(",")[0] + " ")
            if p.get("name"):
                who = self.person(p["name"], keys)
                for k in keys:
                    holders.setdefault(k, set()).add(who)
            else:
                unnamed_people.append(("the " + role.split(",")[0].strip(), keys))
                for k in keys:
                    self.unnamed_roles.setdefault(k, "the " + role.split(",")[0].strip())
        for k, whos in holders.items():
            if len(whos) > 1 and self.author in whos:
                whos = whos - {self.author}
            if len(whos) == 1 and k not in self.unnamed_roles:
                self.roles[k] = next(iter(whos))
        self._holders = holders
        named_holders = {k: set(v) for k, v in holders.items()}
        # Every "President Kennedy" in the file (header included) links "president" -> Kennedy.
        self.links: list[tuple[int, list[str], str]] = []
        self.first: dict[str, str] = {}
        furniture = sorted(tuple(x) for x in (doc.meta.structure_spans or []))
        for m in _TITLED_RE.finditer(doc.text):
            k = bisect_right(furniture, (m.start(), float("inf"))) - 1
            if k >= 0 and furniture[k][0] <= m.start() < furniture[k][1]:
                continue  # header lists are read by the anatomy (participants), line by line
            keys = _title_keys(m.group(0)[: m.start("tn") - m.start()])
            who = self.person(m.group("tn"), keys)
            tn_words = m.group("tn").split()
            # "President\nThe Secretary" in a participants list is two entries, not a titled name
            if who.split()[-1] in _NAME_STOP or tn_words[0] in _NAME_STOP or tn_words[-1].lower() in _TITLE_SET \
                    or tn_words[-1].lower().rstrip(".") in _HONOR_SET:
                continue
            keys = _title_keys(m.group(0)[: m.start("tn") - m.start()])
            self.links.append((m.start(), keys, who))
            for k in keys:
                self.first.setdefault(k, who)
        # titles this document gives to two people: the archive cannot say which one is meant
        for _, keys, who in self.links:
            for k in keys:
                self._holders.setdefault(k, set()).add(who)
        archive_all = self.archive
        self.archive = {k: v for k, v in self.archive.items()
                        if len(self._holders.get(k, set()) - {self.author}) <= 1}
        # A participant listed by office alone ("The President") is none of the named participants:
        # the one other holder the text names ("President Kennedy"), else the alias files' or the
        # archive's holder, else the office itself ("the President") - never whoever spoke last.
        self.unnamed: dict[str, str] = {}
        for label, keys in unnamed_people:
            keys = sorted(keys, key=len, reverse=True)  # "secretary of state" before "secretary"
            named = set().union(*(named_holders.get(k, set()) for k in keys))
            who = None
            for k in keys:
                linked = {w for _, ks, w in self.links if k in ks} - named
                who = self._aliased(_title_lookup(k.split(), [self.sidecar, self.corpus]), keys)
                if who is None and len(linked) == 1:
                    who = next(iter(linked))
                if who is None and archive_all.get(k) and archive_all[k] not in named:
                    who = archive_all[k]
                if who:
                    break
            for k in keys:
                self.unnamed.setdefault(k, who or label)
        self.current: dict[str, str] = {}
        self._next_link = 0
        self.last_subject: Optional[str] = None  # latest third person who was a subject
        self.partner: Optional[str] = None  # latest third person who spoke

    def person(self, name: str, keys=()) -> str:
        """The speaker a name stands for: its surname (or alias) when one person of the archive
        bears it, else the one of them the first name, the title (`keys`), the document's own
        full mentions or, failing all, prominence points to (see people.choose)."""
        from .people import _first_name, choose

        who = canonical_speaker(name, self.names)
        group = self.people.get(who)
        if not group:
            return who
        words = _strip_possessive(re.sub(r"\s+", " ", name).strip()).split(" ")
        first = _first_name(words[:-1]) if len(words) > 1 else None
        return choose(group, first, keys, self.context)["name"]

    def _full_person(self, name: str) -> Optional[str]:
        """The person a full name (first name and surname) names, if the first name tells."""
        from .people import _first_name, _same_first

        group = self.people.get(canonical_speaker(name, self.names))
        first = _first_name(name.split()[:-1])
        if not group or not first:
            return None
        hit = [p for p in group if _same_first(first, p["first"])]
        return hit[0]["name"] if len(hit) == 1 else None

    def _aliased(self, who: Optional[str], keys=()) -> Optional[str]:
        """An alias table's value, as a person of the archive ("Kennedy" for "the attorney
        general" is the Kennedy who holds that title)."""
        if who is None or who == AUTHOR or not self.people.get(who):
            return who
        return self.person(who, keys)

    def advance(self, pos: int) -> None:
        while self._next_link < len(self.links) and self.links[self._next_link][0] < pos:
            _, keys, who = self.links[self._next_link]
            for k in keys:
                self.current[k] = who
            self._next_link += 1

    def resolve(self, mention: str) -> Optional[str]:
        """The speaker a mention in subject position refers to, at the current position."""
        m = _PERSON_KIND.fullmatch(mention)
        if m is None:
            return None
        if m.group("pron"):
            if m.group("pron") == "I":
                return self.author
            return self.last_subject or self.partner
        if m.group("name"):
            # "The Secretary" read as a name, or a bare "President said" (cable style), is the
            # title phrase it is
            rest = mention.split(None, 1)[1] if mention.split()[0] in ("The", "the") and " " in mention else mention
            t = _PERSON_KIND.fullmatch("the " + rest)
            if t is not None and t.group("title") and rest.split()[0].lower() in _TITLE_SET:
                m = t
        if m.group("title"):
            words = [w.lower() for w in re.split(r"\s+", m.group("tt")) if w]
            who = self._aliased(_title_lookup(
                words, [self.sidecar, self.unnamed, self.current, self.roles, self.first, self.corpus, self.archive]
            ), _title_keys(" ".join(words) + " "))
            if who is None:
                who = self.partner
        else:
            if m.group("titled"):
                keys = _title_keys(mention[: m.start("tn")]) if m.group("tp") else []
                who = self.person(m.group("tn"), keys)
            else:
                who = self.person(mention)
            if who == mention and m.group("alias"):
                who = None
        return self.author if who == AUTHOR else who


def _author_speaker(doc: Document, name: Optional[str], person: Callable[..., str]) -> Optional[str]:
    """The speaker an author's name stands for: a person (`person` resolves the name, with the
    author's title), an institution as named ("Soviet Government", not its last word)."""
    if not name:
        return None
    keys: list[str] = []
    for p in doc.meta.authors or []:
        if isinstance(p, dict) and p.get("kind") == "institution" and p.get("name") == name:
            return name
        if isinstance(p, dict) and p.get("name") == name and p.get("role"):
            keys = _title_keys(p["role"].split(",")[0] + " ")
    return person(name, keys)


def _title_keys(title: str) -> list[str]:
    """'Soviet Foreign Minister ' -> ['soviet foreign minister', 'foreign minister', 'minister'];
    'Secretary of State ' -> ['secretary', 'secretary of state']. Honorifics give no keys."""
    words = [w.lower() for w in title.split() if w.lower() != "the"]
    heads = [i for i, w in enumerate(words) if w in _TITLE_SET]
    if not heads:
        return []
    h = heads[0]
    keys = []
    for i in range(h + 1):
        keys.append(" ".join(words[i:h + 1]))
        if len(words) > h + 1:
            keys.append(" ".join(words[i:]))
    return keys


def _subject(
    masked: str, st: _DocState, known: set[str], known_words: set[str]
) -> Optional[tuple[Optional[str], int, bool]]:
    """The first person mention that can be a grammatical subject: (who, end offset, is "I")."""
    for m in _PERSON_RE.finditer(masked):
        mention = m.group()
        kind = _PERSON_KIND.fullmatch(mention)
        if kind is None:
            continue
        if kind.group("pron"):  # nominative: always a subject
            return st.resolve(mention), m.end(), mention == "I"
        prev = _prev_word(masked, m.start())
        if prev.lower() in _NOT_SUBJECT_AFTER:
            continue  # "with the Ambassador", "of Rusk"
        if kind.group("name"):
            # Only people known to speak or hold a title count ("Cuba represented ..." does not),
            # and only after a word that can precede a subject ("Having heard Rusk out" cannot).
            last = mention.rsplit(None, 1)[-1]
            if last not in known_words or last in _NAME_STOP:
                continue
            low = prev.lower()
            if prev and prev[-1].isalnum() and not prev[0].isupper() and low not in _SUBJECT_AFTER \
                    and not low.endswith("ly"):
                continue
            who = st.resolve(mention)
            if who not in known:
                continue
            return who, m.end(), False
        return st.resolve(mention), m.end(), False
    return None


def _uncued(masked: str, st: _DocState, known: set[str], known_words: set[str]) -> tuple[str, Optional[str]]:
    """For a sentence without an explicit cue: ("author" | "speaker" | "carry", subject).

    "author": the author's narration (ends the turn); "speaker": the subject speaks (a past-tense
    clause with a word of speech in it); "carry": the running turn goes on.
    """
    subj = _subject(masked, st, known, known_words)
    who = subj[0] if subj else None
    if _NARRATION_RE.search(masked):
        return "author", who
    if subj is None or (who is None and not subj[2]):
        return "carry", who
    after = _AFTER_RE.match(masked, subj[1])
    verb = (after.group("v") or "").lower() if after else ""
    nxt = (after.group("v2") or "").lower() if after else ""
    if verb == "never" or verb.endswith("n't") or (verb in _NEG_AUX and nxt == "not"):
        return "author", who  # "Rusk did not respond": narration, not speech
    # Reports narrate in the past tense; a present or modal verb ("Rusk will not deny ...",
    # "I can only say ...") belongs to the reported speech itself.
    if not (verb.endswith("ed") or verb in _IRREGULAR_PAST):
        return "carry", who
    if subj[2] or who == st.author:
        return "author", who
    return ("speaker" if _SPEECH_WORD_RE.search(masked) else "author"), who


def archive_titles(documents, aliases: dict[str, str], people: Optional[dict] = None) -> dict[str, str]:
    """Titles that name one person across the archive: title key -> canonical speaker.

    Each document votes once for every (title, holder) it shows: a titled mention ("President
    Kennedy"), a participant listed with an office, a title's sender or recipient with an office.
    A title goes to the holder most documents give it, when at least two documents do and at
    least twice as many as give it to anyone else ("the President" -> Kennedy); a title many
    people hold ("ambassador") names nobody. A document where two people hold the title does not
    use the table for it. Used after the document's own evidence and the alias
    files, before a title is left to the latest speaker.
    """
    votes: dict[str, dict[str, int]] = {}
    for doc in documents:
        st = _DocState(doc, aliases, people=people)
        pairs = {(k, who) for _, keys, who in st.links for k in keys}
        pairs |= set(st.roles.items())
        for k, who in pairs:
            if who and who != AUTHOR:
                votes.setdefault(k, {}).setdefault(who, 0)
                votes[k][who] += 1
    out = {}
    for k, holders in sorted(votes.items()):
        ranked = sorted(holders.items(), key=lambda x: (-x[1], x[0]))
        who, n = ranked[0]
        runner = ranked[1][1] if len(ranked) > 1 else 0
        if n >= 2 and n >= 2 * runner:
            out[k] = who
    return out


def attribute_speakers(
    doc: Document, sentences: list[Sentence], aliases: dict[str, str], archive: Optional[dict[str, str]] = None,
    people: Optional[dict] = None,
) -> None:
    """Sets Sentence.speaker (the person's name, or None) for every body sentence; metadata
    sentences get None. Unattributed body text is the author's (None if the author is unknown).
    Names are canonical surnames, or with `people` (see people.archive_people) the archive's name
    for the person ("Robert Kennedy")."""
    for s in sentences:
        s.speaker = None
    body = [s for s in sentences if s.section == "body"]
    # First person belongs to the author of the text it is in: a letter relayed inside a telegram
    # ("Begin text … End text") is attributed on its own, with its own author.
    texts = [(int(e["start"]), int(e["end"]), e.get("author")) for e in (doc.meta.embedded or [])
             if isinstance(e, dict) and "start" in e and "end" in e]
    inner: set[int] = set()
    for start, end, who in texts:
        part = [s for s in body if start <= s.start < end]
        inner.update(id(s) for s in part)
        if part:
            _attribute(doc, part, _DocState(doc, aliases, author=who, archive=archive, people=people))
    _attribute(doc, [s for s in body if id(s) not in inner], _DocState(doc, aliases, archive=archive, people=people))


def _attribute(doc: Document, body: list[Sentence], st: "_DocState") -> None:
    """Attribution of the body sentences of one text (the document's own, or a relayed one)."""
    author = st.author
    # Pass 1: mask quotations, find explicit cues, learn who speaks in this document.
    masks: list[tuple[str, bool, Optional[int], bool]] = []
    cues: list[Optional[tuple[str, str, int]]] = []
    inside, prev_para, quote_len = False, None, 0
    for s in body:
        text = doc.text[s.start:s.end]
        # An unclosed quotation ends with its paragraph (unless the next one reopens it).
        new_para = s.paragraph != prev_para and text.lstrip()[:1] not in "\"“"
        if inside and (new_para or quote_len > _MAX_QUOTE_SENTENCES):
            inside = False
        prev_para = s.paragraph
        started = inside
        masked, inside, close = _mask_quotes(text, inside)
        quote_len = quote_len + 1 if inside else 0
        masks.append((masked, started, close, inside))
        before = line_break_view(doc.text[max(0, s.start - 12):s.start])  # a lone CR ends a line too
        line_start = s.start == doc.meta.body_start or (
            "\n" in before and not before.rsplit("\n", 1)[1].strip(" \t*_#>-"))
        cues.append(_explicit_cue(masked, line_start))
    # A lone "Word:" at a line start is a heading, not a speaker; transcripts have many labels.
    if sum(1 for c in cues if c and c[0] == "label") < 2:
        cues = [None if c and c[0] == "label" else c for c in cues]
    known = {x for x in (author,) if x} | {w for _, _, w in st.links} | set(st.roles.values())
    others: set[str] = set()
    author_speaks = False
    for cue in cues:
        kind = _PERSON_KIND.fullmatch(cue[1]) if cue else None
        if kind is None:
            continue
        if kind.group("pron") == "I":
            author_speaks = True
        elif kind.group("name") or kind.group("titled") or kind.group("alias"):
            who = st.resolve(cue[1])  # these need no context to resolve
            if who is None:
                continue
            known.add(who)
            author_speaks |= who == author
            if who != author:
                others.add(who)
    conversation = author is None or author_speaks or len(others) >= 2
    # surface words that can name a known person: surnames, and aliases of them
    known_words = {k.split()[-1] for k in known}
    known_words |= {k.split()[-1].capitalize() for k, v in st.names.items() if st._aliased(v) in known}

    # Pass 2: in document order, with the running turn, pronoun antecedents and quotations.
    current = author  # speaker of the running turn
    quote_speaker: Optional[str] = None
    quote_members: list[Sentence] = []
    quote_from_cue = False
    prev_cued: Optional[str] = None
    for s, (masked, started, close, open_after), cue in zip(body, masks, cues):
        st.advance(s.end)
        if started:  # inside a quotation opened earlier
            s.speaker = quote_speaker
            quote_members.append(s)
            if close is not None and cue and not quote_from_cue:
                # '“... They will scream,” he said.' names the speaker of the whole quotation
                who = st.resolve(cue[1])
                for q in quote_members if who else ():
                    q.speaker = who
            prev_cued = None
            continue
        who = st.resolve(cue[1]) if cue else None
        cued = cue[0] if who is not None else None
        if cued:
            speaker, subject = who, who
            if cued != "as":  # "As the President said, ..." does not interrupt the turn
                current = who
        else:
            verdict, subject = _uncued(masked, st, known, known_words)
            if verdict == "author":
                speaker = current = author
            elif verdict == "speaker":
                speaker = current = subject
            else:
                speaker = current if conversation and current else author
        s.speaker = speaker
        if cued != "as":
            if subject and subject != author:
                st.last_subject = subject
            if speaker and speaker != author:
                st.partner = speaker
        if not conversation:
            current = author  # a report citing someone: the citation does not carry over
        if open_after:
            # A quotation running past this sentence belongs to its cue, or to the cue of the
            # sentence before ("He said the following." / "“We should ...").
            quote_from_cue = cued is not None
            quote_speaker = speaker if cued or not prev_cued else prev_cued
            s.speaker = quote_speaker
            quote_members = [s]
        prev_cued = speaker if cued else None
