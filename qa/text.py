"""Word-level text helpers shared by lexical retrieval, reranking features and grading."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
NUMBER_RE = re.compile(r"\b\d+(?:[.,]\d+)*\b")

STOPWORDS = frozenset(
    """a about above after again against all am an and any are aren't as at be because been before being
    below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down
    during each few for from further had hadn't has hasn't have haven't having he he'd he'll he's her here
    here's hers herself him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself
    let's me more most mustn't my myself no nor not of off on once only or other ought our ours ourselves
    out over own same shan't she she'd she'll she's should shouldn't so some such than that that's the their
    theirs them themselves then there there's these they they'd they'll they're they've this those through
    to too under until up very was wasn't we we'd we'll we're we've were weren't what what's when when's
    where where's which while who who's whom why why's with won't would wouldn't you you'd you'll you're
    you've your yours yourself yourselves also s t""".split()
)
# Words that frame a question rather than carry its topic.
QUESTION_FRAME = frozenset(
    """what who whom whose which when where why how did does do say said says tell told mention mentioned
    according think thought view views describe described answer answered reply replied respond responded
    claim claimed declare declared""".split()
)


def fold(text: str) -> str:
    """Lowercase, curly quotes straightened, accents kept (they distinguish names)."""
    text = unicodedata.normalize("NFKC", text).lower()
    return text.replace("’", "'").replace("‘", "'")


TOKENIZER_VERSION = "2"  # bump when tokens() changes: the BM25 index is rebuilt (vectors are kept)

# Irregular verb forms the suffix rules cannot reach ("spoke about" must match "speak about").
IRREGULAR = {
    **dict.fromkeys(["spoke", "spoken"], "speak"), "said": "say", "says": "say", "told": "tell",
    "thought": "think", "brought": "bring", **dict.fromkeys(["took", "taken"], "take"),
    **dict.fromkeys(["gave", "given"], "give"), "met": "meet", **dict.fromkeys(["went", "gone"], "go"),
    "made": "make", "sent": "send", **dict.fromkeys(["wrote", "written"], "write"),
    **dict.fromkeys(["began", "begun"], "begin"), **dict.fromkeys(["knew", "known"], "know"),
    **dict.fromkeys(["saw", "seen"], "see"), "felt": "feel", "held": "hold", "left": "leave", "led": "lead",
    "kept": "keep", "sought": "seek", "fought": "fight", "won": "win", "lost": "lose", "stood": "stand",
    "understood": "understand", **dict.fromkeys(["chose", "chosen"], "choose"), "bought": "buy",
    **dict.fromkeys(["fell", "fallen"], "fall"), **dict.fromkeys(["drew", "drawn"], "draw"),
    **dict.fromkeys(["threw", "thrown"], "throw"), **dict.fromkeys(["flew", "flown"], "fly"),
    **dict.fromkeys(["broke", "broken"], "break"), **dict.fromkeys(["rose", "risen"], "rise"),
    "withdrew": "withdraw", "withdrawn": "withdraw", "paid": "pay", "sold": "sell", "found": "find",
    "built": "build", "meant": "mean", "heard": "hear", "ran": "run", "came": "come", "became": "become",
}


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light English suffix stripper: enough to match 'weapons'/'weapon', 'declared'/'declare'.

    Deliberately conservative: a wrong merge costs more precision than a missed one costs recall,
    because dense retrieval already covers paraphrase.
    """
    if word in IRREGULAR:
        return IRREGULAR[word]
    w = word
    if len(w) <= 3 or w.isdigit():
        return w
    if w.endswith("'s"):
        w = w[:-2]
    for suf, rep, min_len in (
        ("ies", "y", 5),
        ("sses", "ss", 5),
        ("ness", "", 7),
        ("ments", "ment", 7),
        ("ing", "", 6),
        ("edly", "", 7),
        ("ed", "", 5),
        ("ly", "", 6),
        ("es", "", 5),
        ("s", "", 4),
    ):
        if w.endswith(suf) and len(w) >= min_len and not (suf == "s" and w.endswith(("ss", "us", "is"))):
            w = w[: len(w) - len(suf)] + rep
            break
    if w.endswith("e") and len(w) > 4:
        w = w[:-1]
    return w


def words(text: str) -> list[str]:
    return WORD_RE.findall(fold(text))


def tokens(text: str, drop_stopwords: bool = True) -> list[str]:
    """Stemmed, lowercased word tokens: the vocabulary of the BM25 index."""
    out = []
    for w in words(text):
        if drop_stopwords and w in STOPWORDS:
            continue
        out.append(stem(w))
    return out


def content_words(text: str) -> list[str]:
    """Tokens of a question that carry its topic (no stopwords, no question framing)."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and w not in QUESTION_FRAME]


def fold_whitespace(text: str) -> str:
    """For display only: stored quotes are never altered."""
    return re.sub(r"\s+", " ", text).strip()
