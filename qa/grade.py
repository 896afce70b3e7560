"""Grading students' short answers against a key and against the archive: `qa grade`.

Each answer is compared with a reference text -- the teacher's key when there is one, otherwise the
archive's best evidence for the question -- through lexical and MiniLM features (`compare`), which
a small multinomial logistic regression trained on SemEval Beetle (`scripts/train_grader.py`,
weights in `qa/models/grader.json`) turns into correct / partial / incorrect.  Checks that an
embedding grader misses (a different number, a negated claim, a different name) are applied on
top: topical similarity must never let a contradicted answer pass.
"""
from __future__ import annotations

import csv
import io
import json
import math
import re
import string
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Optional, Sequence

import numpy as np

from .batch_input import FileUnusable, csv_records, field_count_problem, json_lines, read_text
from .display import printable
from .embed import ModelMissing
from .paths import OutputUnusable
from .text import STOPWORDS, WORD_RE, content_words, fold, stem, words
from .types import Extract

if TYPE_CHECKING:
    from .embed import Encoder
    from .engine import Archive

VERDICTS = ("correct", "partial", "incorrect")
MODEL_PATH = Path(__file__).resolve().parent / "models" / "grader.json"
EVIDENCE_K = 3  # extracts asked of the archive per question (plus their neighbouring sentences)
MAX_ANSWER_CHARS = 5000

# -- words -----------------------------------------------------------------------------------------

NEGATIONS = frozenset(
    """not no never none nothing neither nor without nobody nowhere cannot
    dont doesnt didnt isnt arent wasnt werent cant couldnt wouldnt shouldnt hasnt havent""".split()
)
# General-English opposites: a student who writes one where the reference has the other is
# contradicting it, however close the two sentences are in embedding space.
ANTONYM_PAIRS = (
    ("same", "different"), ("open", "closed"), ("open", "close"), ("connected", "disconnected"),
    ("connected", "separated"), ("positive", "negative"), ("increase", "decrease"),
    ("increased", "decreased"), ("more", "less"), ("more", "fewer"), ("higher", "lower"),
    ("high", "low"), ("before", "after"), ("on", "off"), ("complete", "incomplete"),
    ("true", "false"), ("accepted", "rejected"), ("accept", "reject"), ("agreed", "refused"),
    ("win", "lose"), ("won", "lost"), ("victory", "defeat"), ("always", "never"), ("all", "none"),
    ("with", "without"), ("inside", "outside"), ("series", "parallel"), ("present", "absent"),
    ("damaged", "undamaged"), ("withdrawn", "deployed"), ("withdrew", "stayed"), ("withdrawn", "stayed"),
    ("withdrawn", "remained"), ("removed", "stayed"), ("removed", "remained"), ("allow", "forbid"),
    ("legal", "illegal"), ("friendly", "hostile"), ("peace", "war"), ("support", "oppose"),
    ("supported", "opposed"), ("success", "failure"), ("rise", "fall"), ("rose", "fell"),
    ("offensive", "defensive"), ("strong", "weak"), ("large", "small"), ("first", "last"),
    ("east", "west"), ("north", "south"), ("import", "export"), ("buy", "sell"), ("north", "south"),
)
_ANTONYMS: dict[str, set[str]] = {}
for _a, _b in ANTONYM_PAIRS:
    _ANTONYMS.setdefault(stem(_a), set()).add(stem(_b))
    _ANTONYMS.setdefault(stem(_b), set()).add(stem(_a))

NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
}
NUMBER_WORDS.update({"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
                     "ninety": 90, "hundred": 100, "thousand": 1000, "million": 10**6, "dozen": 12})
MONTHS = ("january february march april may june july august september october november december").split()
NON_ANSWERS = re.compile(
    r"^\W*(i\s*(do\s*n[o']?t|dont|dunno|have\s+no|am\s+not\s+sure|'?m\s+not\s+sure)|idk|no\s+idea|not\s+sure|"
    r"no\s+clue|pass|\?+|n/?a|none given|tell me)\b",
    re.IGNORECASE,
)


# Discourse words carry no content of their own ("As a victory, although it was a defeat").
GRADE_STOPWORDS = STOPWORDS | frozenset(
    """although though however thus therefore hence yet still even just really actually also perhaps
    maybe probably basically simply instead rather whereas while meanwhile moreover furthermore indeed
    well etc""".split()
)


def is_negation(word: str) -> bool:
    return word in NEGATIONS or word.endswith("n't")


def squad_tokens(text: str) -> list[str]:
    """SQuAD's answer normalisation: lowercase, no punctuation, no articles."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return re.sub(r"\b(a|an|the)\b", " ", text).split()


_PUNCT = frozenset(string.punctuation) | set("“”‘’—–…")


def token_f1(a: str, b: str) -> float:
    ta, tb = squad_tokens(a), squad_tokens(b)
    common = sum((Counter(ta) & Counter(tb)).values())
    if not common:
        return 0.0
    p, r = common / len(ta), common / len(tb)
    return 2 * p * r / (p + r)


def content(text: str) -> list[str]:
    """Stemmed content words; negations are kept out (they are compared separately)."""
    return [stem(w) for w in words(text) if w not in GRADE_STOPWORDS and not is_negation(w)]


@lru_cache(maxsize=200_000)
def _close(a: str, b: str) -> bool:
    """Same word up to a typo ("seperated"/"separated"): students misspell, keys do not."""
    if a == b:
        return True
    if min(len(a), len(b)) < 4 or a[0] != b[0] or abs(len(a) - len(b)) > 2:
        return False
    return SequenceMatcher(None, a, b).ratio() >= 0.8


def _covered(w: str, pool: Iterable[str]) -> bool:
    return any(_close(w, p) for p in pool)


def negated_words(text: str) -> set[str]:
    """Content words within three words after a negation ("not in a closed path" -> closed, path)."""
    ws = words(text)
    out: set[str] = set()
    for i, w in enumerate(ws):
        if is_negation(w):
            out.update(stem(x) for x in ws[i + 1 : i + 4] if x not in GRADE_STOPWORDS and not is_negation(x))
    return out


def negated_heads(text: str) -> set[str]:
    """The first content word after each negation: what is denied ("not connected to the
    positive terminal" denies connected, not positive; "neither missiles, nor nuclear weapons"
    denies missiles and nuclear)."""
    ws = words(text)
    out: set[str] = set()
    for i, w in enumerate(ws):
        if is_negation(w):
            for x in ws[i + 1 : i + 5]:
                if is_negation(x):
                    break
                if x not in GRADE_STOPWORDS:
                    out.add(stem(x))
                    break
    return out


def has_negation(text: str) -> bool:
    return any(is_negation(w) for w in words(text))


def negates_shared(text: str, other_words: set[str]) -> bool:
    """Whether `text` negates something the other text talks about (or is a bare "no"/"none").

    A negation elsewhere in a long passage ("wouldn't it be possible to consider ...") says
    nothing about the claim being compared.
    """
    if not has_negation(text):
        return False
    scope = negated_words(text)
    if not content(text):
        return True
    return any(_covered(w, other_words) for w in scope)


def numbers(text: str) -> dict[str, str]:
    """Numbers (digits or words) and month names in a text: normalised value -> as written."""
    out: dict[str, str] = {}
    for m in re.finditer(r"\d+(?:[.,]\d+)*|[^\W\d_]+", text):
        tok = m.group(0)
        low = tok.lower()
        if tok[0].isdigit():
            value = tok.replace(",", "")
            try:
                value = f"{float(value):g}"
            except ValueError:
                pass
            out.setdefault(value, tok)
        elif low in NUMBER_WORDS:
            out.setdefault(f"{NUMBER_WORDS[low]:g}", tok)
        elif low in MONTHS and not (low == "may" and tok == "may"):
            out.setdefault(low, tok)
    return out


def names(text: str) -> set[str]:
    """Capitalised words that are not merely sentence-initial: a cheap stand-in for named entities."""
    out = set()
    for m in WORD_RE.finditer(text):
        w = m.group(0)
        if len(w) < 2 or not w[0].isupper() or w.lower() in GRADE_STOPWORDS or w.lower() in NUMBER_WORDS or w.lower() in MONTHS:
            continue
        before = text[: m.start()].rstrip()
        initial = re.search(r"(?:^|\s)[A-Z]\.$", before)  # "Mark H. Doctoroff": an initial, not a full stop
        if not before or (before[-1] in ".!?:;\"“(" and not initial):
            continue  # sentence-initial capital says nothing
        out.add(stem(fold(w)))
    return out


def antonym_conflict(answer_words: set[str], ref_words: set[str]) -> Optional[tuple[str, str]]:
    for w in sorted(answer_words):
        if w in ref_words:
            continue
        hit = _ANTONYMS.get(w, set()) & ref_words
        if hit and not (hit & answer_words):
            return w, sorted(hit)[0]
    return None


def is_non_answer(answer: str) -> bool:
    return not answer.strip() or bool(NON_ANSWERS.match(answer.strip()))


# -- embeddings ------------------------------------------------------------------------------------


class TextVectors:
    """MiniLM sentence vectors and contextual token vectors, computed in batches and cached.

    Token vectors give a BERTScore-style soft alignment (which words of the key the answer
    covers), a much better partial-credit signal than one cosine between two sentences.
    Both come out of the same forward pass of the shared encoder's model.
    """

    def __init__(self, encoder: "Encoder"):
        self.encoder = encoder
        self._sent: dict[str, np.ndarray] = {}
        self._tok: dict[str, np.ndarray] = {}

    def add(self, texts: Iterable[str]) -> None:
        # Longest first (batches pad to similar lengths), ties by text: the same batches every run,
        # so the same floats (padding changes the last digits).
        todo = sorted({t for t in texts if t not in self._sent}, key=lambda t: (-len(t), t))
        if not todo:
            return
        bs = self.encoder.batch_size
        for i in range(0, len(todo), bs):
            chunk = todo[i : i + bs]
            for text, (vec, tok) in zip(chunk, self.encoder.encode_tokens(chunk, batch_size=bs)):
                self._sent[text] = vec.astype(np.float32)
                tok = tok[1:-1] if len(tok) > 2 else tok  # drop [CLS] and [SEP]
                tok = tok / np.maximum(np.linalg.norm(tok, axis=1, keepdims=True), 1e-12)
                self._tok[text] = tok.astype(np.float16)

    def vec(self, text: str) -> np.ndarray:
        if text not in self._sent:
            self.add([text])
        return self._sent[text]

    def tokens(self, text: str) -> np.ndarray:
        if text not in self._tok:
            self.add([text])
        return self._tok[text].astype(np.float32)

    def forget(self, keep: Callable[[str], bool]) -> None:
        for d in (self._sent, self._tok):
            for t in [t for t in d if not keep(t)]:
                del d[t]


def soft_alignment(a: np.ndarray, r: np.ndarray, q: Optional[np.ndarray] = None) -> tuple[float, float, float]:
    """BERTScore precision and recall of answer tokens `a` against reference tokens `r`, and the
    recall over the reference tokens the question does not already contain (its new content)."""
    if len(a) == 0 or len(r) == 0:
        return 0.0, 0.0, 0.0
    sim = a @ r.T
    p, rc = float(sim.max(1).mean()), float(sim.max(0).mean())
    rn = rc
    if q is not None and len(q):
        new = (r @ q.T).max(1) < 0.85
        if new.any():
            rn = float(sim.max(0)[new].mean())
    return p, rc, rn


# -- features --------------------------------------------------------------------------------------

FEATURES = (
    "cos_ar", "cos_qa_qr", "cos_rq", "f1", "rec", "prec", "bs_p", "bs_r", "bs_rn",
    "neg_mis", "neg_conf", "antonym", "cos_aq", "extra", "len_a",
)


@dataclass
class Comparison:
    """An answer against one reference text (key or evidence): model features plus the facts the
    reasons are written from."""

    features: dict[str, float]
    missing: list[str]  # reference content words the answer does not cover
    number_conflict: Optional[tuple[list[str], list[str]]] = None  # (answer says, reference says)
    negation_conflict: bool = False
    antonym: Optional[tuple[str, str]] = None
    name_conflict: Optional[tuple[list[str], list[str]]] = None

    def vector(self) -> np.ndarray:
        return np.array([self.features[f] for f in FEATURES], dtype=np.float64)


def _surface(text: str) -> dict[str, str]:
    """Stemmed content word -> first surface form, for readable reasons."""
    out: dict[str, str] = {}
    for w in WORD_RE.findall(text):
        lw = fold(w)
        if lw in GRADE_STOPWORDS or is_negation(lw):
            continue
        out.setdefault(stem(lw), w)
    return out


def compare(question: str, answer: str, reference: str, tv: TextVectors) -> Comparison:
    """Features of `answer` against `reference`, both read as answers to `question`."""
    qs = set(content(question))
    a_words, r_words = content(answer), content(reference)
    a_set, r_set = set(a_words), set(r_words)
    a_new = {w for w in a_set if w not in qs}
    r_new = {w for w in r_set if w not in qs}
    rec = sum(_covered(w, a_set) for w in r_new) / len(r_new) if r_new else 1.0
    prec = sum(_covered(w, r_set) for w in a_new) / len(a_new) if a_new else 0.0
    extra = sum(not _covered(w, r_set | qs) for w in a_new) / max(1, len(a_set))
    neg_a, neg_r = negates_shared(answer, r_set), negates_shared(reference, a_set)
    # A contradiction: one text denies what the other asserts.
    na_words, nr_words = negated_heads(answer), negated_heads(reference)
    neg_conf = bool((na_words & (r_set - nr_words)) or (nr_words & (a_set - na_words)))
    antonym = antonym_conflict(a_set, r_set)

    va, vr, vq = tv.vec(answer), tv.vec(reference), tv.vec(question)
    vqa, vqr = tv.vec(f"{question} {answer}"), tv.vec(f"{question} {reference}")
    ta, tr, tq = tv.tokens(answer), tv.tokens(reference), tv.tokens(question)
    bs_p, bs_r, bs_rn = soft_alignment(ta, tr, tq)

    feats = {
        "cos_ar": float(va @ vr),
        "cos_qa_qr": float(vqa @ vqr),
        "cos_rq": float(vr @ vq),
        "f1": token_f1(answer, reference),
        "rec": rec,
        "prec": prec,
        "bs_p": bs_p,
        "bs_r": bs_r,
        "bs_rn": bs_rn,
        "neg_mis": float(neg_a != neg_r),
        "neg_conf": float(neg_conf),
        "antonym": float(antonym is not None),
        "cos_aq": float(va @ vq),
        "extra": extra,
        "len_a": math.log1p(len(a_set)),
        # Share of the answer's words the question does not already contain: an answer that only
        # restates the question ("because of the switch" to "Why does the switch ...?") says nothing.
        "novel": len(a_new) / max(1, len(a_set)),
    }
    surface = _surface(reference)
    missing = [surface.get(w, w) for w in sorted(r_new, key=r_words.index) if not _covered(w, a_set)]

    comp = Comparison(feats, missing)
    # Hard contradictions, only between texts about the same thing (they share content words).
    shared = bool(a_set & r_set)
    comp.number_conflict = number_conflict(question, answer, reference)
    # A bare "no"/"none"/"never" key is a pure polarity statement: the answer must share it.
    bare = has_negation(reference) and not r_set and not has_negation(answer)
    if neg_a != neg_r and (neg_conf and shared) or bare:
        comp.negation_conflict = True
    if antonym:
        comp.antonym = (_surface(answer).get(antonym[0], antonym[0]), surface.get(antonym[1], antonym[1]))
    qn = {stem(fold(w)) for w in WORD_RE.findall(question)}
    r_names = {n for n in names(reference) | _leading_name(reference) if n not in qn}
    a_caps = {stem(fold(w)) for w in WORD_RE.findall(answer) if w[0].isupper()}
    a_names = {n for n in names(answer) | _leading_name(answer) | (a_caps & r_names) if n not in qn}
    short_ref = len(r_set) <= 4  # a key that is just a name needs no shared context
    if (
        a_names
        and r_names
        and (shared or short_ref)
        and not (a_names & (r_set | r_names))
        and not any(_covered(n, r_set) for n in a_names)
    ):
        a_surface, r_surface = _surface(answer), _surface(reference)
        comp.name_conflict = (
            [a_surface.get(n, n) for n in sorted(a_names, key=_order(answer))],
            [r_surface.get(n, n) for n in sorted(r_names, key=_order(reference))],
        )
    return comp


def number_conflict(question: str, answer: str, reference: str) -> Optional[tuple[list[str], list[str]]]:
    """(answer says, reference says) when the answer has a number the reference lacks and lacks
    one it has, beyond the question's ("from six to eight" against a key of "eight" is no
    conflict; "from 11 to 15" against "11 to 13" is)."""
    qnums = numbers(question)
    an = {k: v for k, v in numbers(answer).items() if k not in qnums}
    rn = {k: v for k, v in numbers(reference).items() if k not in qnums}
    if an and rn and set(an) - set(rn) and set(rn) - set(an):
        return [v for k, v in an.items() if k not in rn], list(rn.values())
    return None


# "How many …?", "When …?": a question whose answer is a number, a time or a date.
QUANTITY_QUESTION = re.compile(
    r"\b(?:how\s+(?:many|much|large|big|long|old|far|often|soon)|when|what\s+(?:time|year|date|day|month))\b",
    re.IGNORECASE,
)


def _order(text: str) -> Callable[[str], int]:
    stems = [stem(w) for w in words(text)]
    return lambda n: stems.index(n) if n in stems else len(stems)


def _leading_name(text: str) -> set[str]:
    """A short answer that is only capitalised words is a name ("Svetlana Savranskaya"), even
    though its first word is sentence-initial."""
    ws = [w for w in WORD_RE.findall(text) if fold(w) not in GRADE_STOPWORDS]
    if 1 <= len(ws) <= 4 and all(w[0].isupper() for w in ws):
        return {stem(fold(w)) for w in ws if len(w) > 1}
    return set()


# -- the learned model -----------------------------------------------------------------------------


class GraderWeightsMissing(ModelMissing):
    """qa/models/grader.json is missing, unreadable or for other features (the CLI reports it)."""


@dataclass
class GraderModel:
    """Standardised features -> multinomial logistic regression (weights from train_grader.py).

    The model may be trained on finer classes than the three verdicts (Beetle's five labels:
    "incorrect" is a mixture of contradictions, off-topic and non-answers, each with its own
    signature); `verdict_of` maps each class to its verdict and `proba` sums them.
    """

    features: list[str]
    classes: list[str]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    verdict_of: dict[str, str] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> "GraderModel":
        try:
            raw = json.loads(Path(path).read_text("utf-8"))
            model = cls(
                features=raw["features"],
                classes=raw["classes"],
                mean=np.asarray(raw["mean"], dtype=np.float64),
                scale=np.asarray(raw["scale"], dtype=np.float64),
                coef=np.asarray(raw["coef"], dtype=np.float64),
                intercept=np.asarray(raw["intercept"], dtype=np.float64),
                verdict_of=raw.get("verdict_of") or {c: c for c in raw["classes"]},
                meta=raw.get("meta", {}),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise GraderWeightsMissing(f"grader weights not readable at {path}: {exc}") from None
        if model.features != list(FEATURES):
            raise GraderWeightsMissing(f"grader weights at {path} were trained on other features; rerun scripts/train_grader.py")
        shapes = (model.mean.shape, model.scale.shape, model.coef.shape, model.intercept.shape)
        if {model.verdict_of.get(c) for c in model.classes} != set(VERDICTS) or shapes != (
            (len(FEATURES),), (len(FEATURES),), (len(model.classes), len(FEATURES)), (len(model.classes),)
        ):
            raise GraderWeightsMissing(f"grader weights at {path} are inconsistent; rerun scripts/train_grader.py")
        return model

    def proba(self, x: np.ndarray) -> dict[str, float]:
        """Probability of each verdict for a `Comparison.vector()`."""
        z = self.coef @ ((x - self.mean) / self.scale) + self.intercept
        z = np.exp(z - z.max())
        p = z / z.sum()
        out = dict.fromkeys(VERDICTS, 0.0)
        for c, v in zip(self.classes, p):
            out[self.verdict_of[c]] += float(v)
        return out


def expected_credit(p: dict[str, float]) -> float:
    return p.get("correct", 0.0) + 0.5 * p.get("partial", 0.0)


# Hard checks (numbers, names, negations, opposites) overrule the model only for short answers
# and keys: in a 20-word explanation a stray "not", "before" or "2" is more often context than a
# contradiction (on Beetle and Mohler the checks cost accuracy on long texts), and there the
# model, which sees the same signals as features, decides alone.
HARD_CHECK_WORDS = 6


def _short_enough(text: str) -> bool:
    return len(set(content(text))) <= HARD_CHECK_WORDS


@dataclass
class KeyVerdict:
    verdict: str
    score: float
    reasons: list[str]
    contradicted: bool = False  # a hard check (number, name, negation, opposite, yes/no) failed


KEY_NOTE = re.compile(r"\s*\([^()]*\)")


def grade_with_key(question: str, answer: str, key: str, tv: TextVectors, model: GraderModel) -> KeyVerdict:
    """An answer against the teacher's key alone: the model's verdict, unless a hard check finds
    a contradiction (a different number or name, a negation, an opposite)."""
    if is_non_answer(answer):
        return KeyVerdict("incorrect", 0.0, ["no answer given" if not answer.strip() else "not an answer"])
    comp = compare(question, answer, key, tv)
    proba = model.proba(comp.vector())
    verdict = max(VERDICTS, key=lambda v: proba[v])
    score = expected_credit(proba)
    crisp = _short_enough(answer) and _short_enough(key)
    reasons = _conflict_reasons(comp, "key") if crisp else []
    if polarity_conflict(answer, key):
        reasons.append(f"contradicts: answer says {_YES_NO.match(answer).group(1)}, key says {_YES_NO.match(key).group(1)}")
    core = KEY_NOTE.sub("", key).strip()
    if verdict != "incorrect" and not reasons and core and core != key:
        # A key's parenthesis is the teacher's note (a source, an aside): the answer need not
        # cover it, and the rest of the key is what it must not contradict.
        plain = grade_with_key(question, answer, core, tv, model)
        if plain.contradicted or (verdict == "partial" and plain.verdict == "correct"):
            return plain
    contradicted = bool(reasons)
    if contradicted:
        verdict, score = "incorrect", min(score, 0.2)
    elif verdict == "correct":
        reasons = ["matches the key"]
    elif verdict == "partial":
        missing = comp.missing[:4]
        reasons = ["covers only part of the key" + (f": missing {', '.join(missing)}" if missing else "")]
    else:
        reasons = [f"does not match the key: key says {_short(key)}"]
    return KeyVerdict(verdict, round(score, 3), reasons, contradicted)


# An answer the key alone rejects may still be right as far as it goes: "a fixed time limit"
# against a key of "30 days", "a lot of money" against "one-third of a million dollars".  It is
# partial when it says nothing the key (or the question) contradicts -- no number, name, negation,
# opposite or yes/no of its own -- and either the archive backs it or the key merely has the
# specifics (numbers, names) it leaves out.
VAGUE_MIN_COS = 0.2  # MiniLM cosine of answer and key below which the answer is about something else
DENIALS = frozenset(stem(w) for w in "deny denied denies refuse refused refuses reject rejected rejects".split())
_YES_NO = re.compile(r"^\W*(yes|no)\b", re.IGNORECASE)


def polarity_conflict(answer: str, key: str) -> bool:
    """The key opens with a bare yes or no and the answer with the other one."""
    a, k = _YES_NO.match(answer), _YES_NO.match(key)
    return bool(a and k and a.group(1).lower() != k.group(1).lower())


def specifics(text: str, question: str) -> set[str]:
    """The checkable facts of a text that the question does not already name: its numbers (as
    values) and its capitalised words that are not merely sentence-initial (stems)."""
    qn = numbers(question)
    qw = {stem(fold(w)) for w in WORD_RE.findall(question)}
    out = {f"#{k}" for k in numbers(text) if k not in qn}
    for m in WORD_RE.finditer(text):
        w = m.group(0)
        if not w[0].isupper() or fold(w) in GRADE_STOPWORDS or fold(w) in NUMBER_WORDS or fold(w) in MONTHS:
            continue
        before = text[: m.start()].rstrip()
        if not before or before[-1] in ".!?:;\"“(":
            continue
        if stem(fold(w)) not in qw:
            out.add(stem(fold(w)))
    return out


def vaguer_than_key(question: str, answer: str, key: str, tv: TextVectors, backed: bool) -> Optional[KeyVerdict]:
    """Partial when the answer says less than the key but nothing against it (see above); None
    when it is simply wrong."""
    comp = compare(question, answer, key, tv)
    if _conflict_reasons(comp, "key") or polarity_conflict(answer, key):
        return None
    if (has_negation(answer) and not has_negation(key)) or set(content(answer)) & DENIALS - set(content(key)):
        return None  # a denial the key does not make
    key_facts = specifics(key, question)
    own = specifics(answer, question)
    key_words = {stem(fold(w)) for w in WORD_RE.findall(key)}
    if any(f not in key_facts and f not in key_words and (f.startswith("#") or not backed) for f in own):
        return None  # a number (or, unless the archive backs it, a name) of its own: a different claim
    missing = sorted(key_facts - own)
    # A key that names somebody or something, answered with another name ("Soviet operators" for
    # "the Cubans themselves"): a different answer, not a vaguer one.
    qw = {stem(fold(w)) for w in WORD_RE.findall(question)}
    capitals = {stem(fold(w)) for w in WORD_RE.findall(answer) if w[0].isupper() and fold(w) not in GRADE_STOPWORDS}
    if any(not m.startswith("#") for m in missing) and capitals - key_words - qw - BARE_REPLIES:
        return None
    if not (backed or (missing and comp.features["cos_ar"] >= VAGUE_MIN_COS)):
        return None
    shown = [m.lstrip("#") for m in missing][:4] or comp.missing[:4]
    reason = "says less than the key" + (f": missing {', '.join(shown)}" if shown else "")
    return KeyVerdict("partial", 0.5, [reason])


# -- evidence from the archive ---------------------------------------------------------------------


@dataclass
class Sentence:
    """One sentence of the archive near the retrieved extracts, with its verbatim span."""

    text: str
    doc: str
    start: int
    end: int
    index: int  # position of the sentence in its document
    source: Extract  # the retrieved extract it belongs to or neighbours
    relevance: float
    speaker: Optional[str] = None  # who says it, as the archive attributes it (None: unknown)


class EvidenceFinder:
    """The archive's sentences about a question: the engine's top extracts for the question (and
    for the question with the key or the student's answer appended), plus the sentences just before
    and after them -- an answer often spans a claim and its continuation."""

    NEIGHBOURS = 2
    FAR = 8  # how far _nearby looks for the sentence that makes the answer's point

    def __init__(self, archive: "Archive", k: int = EVIDENCE_K):
        self.archive = archive
        self.k = k
        self._found: dict[str, list[Extract]] = {}
        self.known: set[str] = set()  # texts of every sentence handed out (their embeddings are kept)
        self._spans: dict[str, tuple[list[tuple[int, int]], list[int], list[int]]] = {}
        self._speakers: dict[str, tuple[np.ndarray, np.ndarray, list[Optional[str]]]] = {}
        self._attributed: Optional[set[str]] = None
        self._subjects: dict[tuple[str, ...], re.Pattern] = {}

    # -- who speaks --------------------------------------------------------------------------------
    def asked_speakers(self, question: str) -> Optional[list[str]]:
        """The people whose own words the question asks for ("What did Rusk say …"), when the
        archive attributes sentences to any of them; None when speakers cannot be checked."""
        frame = self.archive.frame(question)
        if not frame.wants_speech:
            return None
        if self._attributed is None:
            self._attributed = {s for s in self.archive.index.sent_speaker if s}
        return frame.speakers if self._attributed & set(frame.speakers) else None

    def speaker_at(self, doc: str, start: int, end: int) -> Optional[str]:
        """Who says the span [start, end): the speaker of the index's sentences it overlaps, when
        they agree (None when unknown or mixed)."""
        from bisect import bisect_left, bisect_right

        if doc not in self._speakers:
            idx = self.archive.index
            rec = idx.docs[idx.doc_index[doc]]
            lo, hi = rec.sent_lo, rec.sent_hi
            self._speakers[doc] = (idx.sent_start[lo:hi], idx.sent_end[lo:hi], idx.sent_speaker[lo:hi])
        starts, ends, who = self._speakers[doc]
        first, last = bisect_right(ends, start), bisect_left(starts, end)
        found = {who[i] for i in range(first, last)}
        return found.pop() if len(found) == 1 else None

    def says(self, doc: str, start: int, end: int, speakers: Sequence[str]) -> bool:
        """Whether the span may be the words of `speakers`: attributed to them or to nobody, or a
        sentence whose subject they are ("Rusk did not challenge this, but expressed the thought
        that ..." is narration around Rusk's own thought)."""
        if _speaks(self.speaker_at(doc, start, end), speakers):
            return True
        return bool(self._subject_of(tuple(speakers)).match(self.archive.document_text(doc), start, end))

    def _subject_of(self, speakers: tuple[str, ...]) -> re.Pattern:
        """A sentence opening with one of the speakers' names (not its possessive), or with one of
        them as the subject of a verb of saying further on ("Mr. Romanovsky commented that ...,
        and Mr. Siscoe replied that ..." holds Siscoe's words too)."""
        if speakers not in self._subjects:
            from .speakers import _ADV, _VERBS

            forms = sorted((f for f, c in self.archive.known_speakers.items() if c in speakers), key=len, reverse=True)
            alternatives = "|".join(re.escape(f) for f in forms) or "(?!)"
            self._subjects[speakers] = re.compile(
                rf"[\s\"“'(\[]*(?:{alternatives})(?![\w’'])"
                rf"|.*?\b(?:{alternatives})(?:\s+{_ADV}){{0,2}}\s+{_VERBS}",
                re.IGNORECASE | re.DOTALL,
            )
        return self._subjects[speakers]

    def sentence_at(self, text: str, doc: str, start: int, end: int, index: int, source: Extract, relevance: float) -> Sentence:
        """The sentence text[start:end] of `doc`, with its speaker."""
        return Sentence(text[start:end], doc, start, end, index, source, relevance, self.speaker_at(doc, start, end))

    @staticmethod
    def queries(question: str, key: Optional[str], answer: Optional[str]) -> list[str]:
        out = [question]
        for extra in (key, answer):
            if extra and extra.strip():
                out.append(f"{question} {extra.strip()}")
        return out

    def anyone_query(self, question: str, answer: Optional[str]) -> Optional[str]:
        """For a question asking for someone's words, the question's topic with the answer and no
        name: the engine then searches everybody's sentences, which finds who else said it."""
        if not answer or not answer.strip() or self.asked_speakers(question) is None:
            return None
        return f"{self.archive.frame(question).topic_text} {answer.strip()}".strip()

    def prefetch(self, rows: Iterable[tuple[str, Optional[str], Optional[str]]]) -> None:
        """Retrieve for many rows at once (one batched embedding of all their queries)."""
        wanted: set[str] = set()
        for question, key, answer in rows:
            wanted.update(self.queries(question, key, answer))
            anyone = self.anyone_query(question, answer)
            if anyone:
                wanted.add(anyone)
        todo = sorted(q for q in wanted if q not in self._found)
        if not todo:
            return
        from .engine import BadQuestion

        for query, ans in zip(todo, self.archive.ask_many(todo, k=self.k)):
            ok = not isinstance(ans, BadQuestion) and not ans.abstained
            self._found[query] = list(ans.answers) if ok else []

    def sentences(self, question: str, key: Optional[str] = None, answer: Optional[str] = None) -> list[Sentence]:
        self.prefetch([(question, key, answer)])
        qs = self.queries(question, key, None)
        out = self._sentences([ex for q in qs for ex in self._found[q]])
        if answer and answer.strip():
            # Retrieval helped by the answer's words finds its support where the question alone
            # misses it, but such a sentence only counts when it (or the one beside it) is about
            # the question too: otherwise any topical claim would find "support" somewhere.
            topic = set(content_words(question)) - _FRAME
            seen = {(s.doc, s.index) for s in out}
            more = self._sentences(self._found[f"{question} {answer.strip()}"], topic=topic)
            more += self._nearby(out, set(content(answer)) - set(content(question)))
            for s in more:
                if (s.doc, s.index) not in seen:
                    seen.add((s.doc, s.index))
                    out.append(s)
        return out

    def anyone(self, question: str, answer: str) -> list[Sentence]:
        """Sentences about the question that say what the answer says, whoever speaks them (empty
        unless the question asks for someone's words)."""
        query = self.anyone_query(question, answer)
        if query is None:
            return []
        self.prefetch([(question, None, answer)])
        topic = set(content_words(question)) - _FRAME
        return self._sentences(self._found[query], topic=topic)

    def _nearby(self, found: list[Sentence], words: set[str]) -> list[Sentence]:
        """Sentences a little further from the retrieved ones, in the same paragraph, that say what
        the answer says (at least half of its words): the retriever ranks sentences one by one
        and can miss the one that makes the point, a few lines from those it found."""
        if not words:
            return []
        out = []
        for s in found[: self.k * 3]:
            spans, paras, _ = self.doc_spans(s.doc)
            text = self.archive.document_text(s.doc)
            para = _paragraph(paras, s.start)
            for i in range(max(0, s.index - self.FAR), min(len(spans), s.index + self.FAR + 1)):
                a, b = spans[i]
                if _paragraph(paras, a) != para:
                    continue
                shared = sum(_covered(w, set(content(text[a:b]))) for w in words)
                if shared * 2 >= len(words):
                    out.append(self.sentence_at(text, s.doc, a, b, i, s.source, s.relevance * 0.8))
        self.known.update(s.text for s in out)
        return out

    def doc_spans(self, doc: str):
        """Sentence spans, paragraph starts and line starts of a document (cached)."""
        from .segment import line_starts, paragraph_starts, split_sentences

        if doc not in self._spans:
            text = self.archive.document_text(doc)
            self._spans[doc] = (split_sentences(text), paragraph_starts(text), line_starts(text))
        return self._spans[doc]

    def _sentences(self, extracts: list[Extract], topic: Optional[set[str]] = None) -> list[Sentence]:
        out: dict[tuple[str, int], Sentence] = {}
        reach = self.NEIGHBOURS if topic is None else 1
        for ex in extracts:
            spans, paras, _ = self.doc_spans(ex.doc)
            text = self.archive.document_text(ex.doc)
            inside = [i for i, (s, e) in enumerate(spans) if s < ex.end and e > ex.start]
            if topic is not None:
                inside = [i for i in inside if topic & set(content(text[spans[i][0] : spans[i][1]]))]
            if not inside:
                continue
            para = _paragraph(paras, spans[inside[0]][0])
            lo = max(0, inside[0] - reach)
            hi = min(len(spans) - 1, inside[-1] + reach)
            for i in range(lo, hi + 1):
                if _paragraph(paras, spans[i][0]) != para:
                    continue  # never borrow a sentence from another paragraph
                relevance = ex.score if i in inside else ex.score * 0.9
                s, e = spans[i]
                old = out.get((ex.doc, i))
                if old is None or old.relevance < relevance:
                    out[(ex.doc, i)] = self.sentence_at(text, ex.doc, s, e, i, ex, relevance)
        self.known.update(s.text for s in out.values())
        return sorted(out.values(), key=lambda s: -s.relevance)

    def context(self, sents: Sequence[Sentence], speakers: Optional[Sequence[str]] = None) -> str:
        """The sentences with the two before and after them: what a reader of the quote has in mind
        ("not such bases" means American bases when the sentence before says so).  With `speakers`,
        the context stops at a sentence somebody else says: their words back nothing of these."""
        if not sents:
            return ""
        doc = sents[0].doc
        spans, paras, _ = self.doc_spans(doc)
        text = self.archive.document_text(doc)
        first, last = sents[0].index, sents[-1].index

        def usable(i: int) -> bool:
            if not 0 <= i < len(spans) or _paragraph(paras, spans[i][0]) != _paragraph(paras, spans[first if i < first else last][0]):
                return False
            return not speakers or self.says(doc, *spans[i], speakers)

        lo, hi = first, last
        while lo > first - self.NEIGHBOURS and usable(lo - 1):
            lo -= 1
        while hi < last + self.NEIGHBOURS and usable(hi + 1):
            hi += 1
        return text[spans[lo][0] : spans[hi][1]]

    def extract(self, sents: Sequence[Sentence]) -> Extract:
        """The verbatim span from the first to the last of adjacent sentences, with its reference."""
        first, last = sents[0], sents[-1]
        _, _, lines = self.doc_spans(first.doc)
        text = self.archive.document_text(first.doc)
        from .segment import line_of

        who = {s.speaker for s in sents}
        return replace(
            first.source,
            quote=text[first.start : last.end],
            start=first.start,
            end=last.end,
            line=line_of(first.start, lines),
            score=max(s.relevance for s in sents),
            speaker=who.pop() if len(who) == 1 else None,
        )


def _speaks(speaker: Optional[str], speakers: Sequence[str]) -> bool:
    """Whether a sentence may be the words of `speakers`: theirs, or nobody's known."""
    return speaker is None or speaker in speakers


_FRAME = {stem(w) for w in ("happen", "happened", "make", "made", "give", "gave", "take", "took", "about")}


def _paragraph(paras: list[int], offset: int) -> int:
    from bisect import bisect_right

    return bisect_right(paras, offset) - 1


# -- grading ---------------------------------------------------------------------------------------


@dataclass
class QuizRow:
    """One student's answer to one question; `extra` holds the input's other columns."""

    line: int  # 1-based line (CSV: record) number in the input file
    question: str
    answer: str
    reference: Optional[str] = None  # the teacher's key
    id: Optional[str] = None
    student: Optional[str] = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class RowError:
    """An input row that cannot be graded; reported in the output with its `error`."""

    line: int
    error: str
    raw: dict = field(default_factory=dict)


@dataclass
class Grade:
    row: QuizRow | RowError
    verdict: Optional[str] = None
    score: Optional[float] = None
    evidence: Optional[Extract] = None
    reasons: list[str] = field(default_factory=list)
    error: Optional[str] = None

    def to_json(self) -> dict:
        r = self.row
        out: dict = {}
        if isinstance(r, QuizRow):
            if r.id is not None:
                out["id"] = r.id
            if r.student is not None:
                out["student"] = r.student
            out.update({"question": r.question, "answer": r.answer, "reference": r.reference or ""})
            out.update({k: v for k, v in r.extra.items() if k not in out})
        else:
            out.update({k: v for k, v in r.raw.items() if isinstance(k, str)})
        ev = self.evidence
        out.update(
            {
                "verdict": self.verdict,
                "score": None if self.score is None else round(self.score, 3),
                "evidence": ev.quote if ev else None,
                "evidence_doc": ev.doc if ev else None,
                "evidence_start": ev.start if ev else None,
                "evidence_end": ev.end if ev else None,
                "evidence_line": ev.line if ev else None,
                "evidence_section": ev.section if ev else None,
                "evidence_reference": ev.reference() if ev else None,
                "reasons": self.reasons,
            }
        )
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class _Judgement:
    proba: dict[str, float]
    comparison: Comparison
    reference: str
    sentences: Optional[list[Sentence]] = None  # the archive sentences the reference came from


CLAUSE_BREAK = re.compile(r"[,;:()\[\]\"“”—–]|--|[.!?](?=\s|$)")


def clauses(text: str) -> list[str]:
    return [c.strip() for c in CLAUSE_BREAK.split(text) if c and c.strip()]


def aligned_reference(question: str, answer: str, evidence: str) -> str:
    """The clauses of an archive passage the answer speaks to, as a key-like reference.

    A passage says more than any one answer needs ("Polyansky included a scathing denunciation of
    ... causing the deepest of crises that brought the world to the brink of a nuclear war"), so
    comparing a short answer with all of it would always look incomplete.  Only clauses sharing a
    content word (beyond the question's) with the answer are kept, whole: the rest of a clause
    still counts, so an answer that merely echoes one of its words stays far from it.  If no clause
    is shared, the whole passage stands.
    """
    qs = set(content(question))
    a = set(content(answer)) - qs
    keep = [c for c in clauses(evidence) if any(_covered(w, a) for w in set(content(c)) - qs)]
    return " ".join(keep) if keep else evidence


# Without a key: the share of an answer's claims missing from the evidence that makes it partial
# (a third: one unsupported detail in a four-word answer is still a supported answer) or wrong.
UNSUPPORTED_PARTIAL, UNSUPPORTED_WRONG = 1 / 3, 1 / 2
SYNONYM_COS = 0.55
# Replies that make no claim a passage could back ("Yes" is found in any archive).
BARE_REPLIES = frozenset("yes yeah yep ok okay sure true false maybe right correct".split())  # MiniLM cosine of two single words above which they count as the same claim


# Verbs that report what somebody said ("He said ...", "He called it ..."): the frame of an
# answer to "What did X say …", not a claim the archive must back.
REPORTING = frozenset(stem(w) for w in "say said says tell told call called calls reply replied state stated".split())


def _word_forms(text: str) -> list[str]:
    return sorted({fold(w) for w in WORD_RE.findall(text) if fold(w) not in GRADE_STOPWORDS and not is_negation(fold(w))})


def name_groups(text: str) -> list[set[str]]:
    """Runs of two or more capitalised words ("Cold War", "Security Council"): one name, one claim."""
    out, run, last_end = [], [], -1
    for m in WORD_RE.finditer(text):
        w = m.group(0)
        adjacent = last_end >= 0 and re.fullmatch(r"[\s.]*", text[last_end : m.start()]) is not None
        name = w[0].isupper() and fold(w) not in GRADE_STOPWORDS
        if name and (adjacent or not run):
            run.append(stem(fold(w)))
        else:
            if len(run) > 1:
                out.append(set(run))
            run = [stem(fold(w))] if name else []
        last_end = m.end()
    if len(run) > 1:
        out.append(set(run))
    return out


@dataclass
class Support:
    missing: list[str]  # the answer's words the evidence does not back, as the student wrote them
    claims: int
    unsupported: int

    @property
    def share(self) -> float:
        return self.unsupported / self.claims if self.claims else 0.0


def unsupported_words(question: str, answer: str, passage: str, tv: TextVectors) -> Support:
    """The answer's claims (content words beyond the question's) that the passage neither contains
    nor paraphrases, and how many claims the answer makes: without a key, an answer is only as
    good as the evidence for each of them.  A name is one claim and must appear as written ("the
    Cold War" is not supported by a passage that mentions a war, nor Poland by Hungary, however
    close their embeddings); so must a number."""
    qs = set(content(question))
    ps = set(content(passage))
    surface = _surface(answer)
    new = [w for w in dict.fromkeys(content(answer)) if w not in qs and w not in BARE_REPLIES and w not in REPORTING]
    groups = [g & set(new) for g in name_groups(answer)]
    exact = set().union(*groups) if groups else set()
    exact |= {w for w in new if w[0].isdigit() or w in names(answer) | _leading_name(answer)}
    todo = [w for w in new if not _covered(w, ps)]
    soft = [w for w in todo if w not in exact]
    if soft:
        forms = _word_forms(passage)
        P = np.stack([tv.vec(f) for f in forms]) if forms else None
        ok = {w for w in soft if P is not None and float((P @ tv.vec(fold(surface.get(w, w)))).max()) >= SYNONYM_COS}
        todo = [w for w in todo if w not in ok]
    bad = set(todo)
    for g in groups:
        if g & bad:
            bad |= g
    # A multi-word name is one claim.
    merged = sum(len(g) - 1 for g in groups if g)
    claims = len(new) - merged
    unsupported = len(bad) - sum(len(g) - 1 for g in groups if g and g <= bad)
    return Support([surface.get(w, w) for w in new if w in bad], claims, unsupported)


@dataclass
class _Plan:
    """What one row will be compared with, decided before the batched embedding."""

    row: QuizRow
    answer: str
    key: Optional[str]
    question_sentences: list[Sentence]
    # The archive sentences that back the answer (and the key) best, with the reference cut from them.
    support: Optional[tuple[list[Sentence], str]] = None
    key_support: Optional[tuple[list[Sentence], str]] = None
    # "What did Rusk say …" in an archive that attributes speakers: the people whose words count
    # (None: anybody's), and the best backing the answer has in somebody else's words.
    speakers: Optional[list[str]] = None
    elsewhere: Optional[tuple[list[Sentence], str]] = None
    says: Optional[Callable[[Sentence], bool]] = None  # whether a sentence may be the speakers' words

    def own(self, s: Sentence) -> bool:
        return self.says is None or self.says(s)

    def voices(self, sents: Sequence[Sentence]) -> Optional[list[str]]:
        """Whose words a passage's context may draw on: the asked speakers', or the other
        speakers' the passage is from."""
        if self.speakers is None:
            return None
        return _others([s for s in sents if not self.own(s)], self.speakers) or self.speakers


def _others(sents: Sequence[Sentence], speakers: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(s.speaker for s in sents if s.speaker and s.speaker not in speakers))


class Grader:
    """Grades QuizRows against their keys and the archive; one instance per run (it caches the
    evidence and embeddings of questions and keys)."""

    OPTIONS = 3  # archive sentences (and adjacent pairs) an answer is judged against

    def __init__(self, archive: "Archive", model: Optional[GraderModel] = None, k: int = EVIDENCE_K):
        self.archive = archive
        self.model = model or GraderModel.load()
        self.evidence = EvidenceFinder(archive, k)
        self.tv = TextVectors(archive.encoder)

    def judge(self, question: str, answer: str, reference: str, sentences=None) -> _Judgement:
        comp = compare(question, answer, reference, self.tv)
        return _Judgement(self.model.proba(comp.vector()), comp, reference, sentences)

    def grade_many(self, rows: Iterable[QuizRow | RowError], batch: int = 32) -> Iterator[Grade]:
        """Grades in input order; retrieval and embeddings are batched `batch` rows at a time."""
        chunk: list[QuizRow | RowError] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= batch:
                yield from self._grade_chunk(chunk)
                chunk = []
        if chunk:
            yield from self._grade_chunk(chunk)

    def grade(self, row: QuizRow) -> Grade:
        return self._grade_chunk([row])[0]

    def _grade_chunk(self, chunk: Sequence[QuizRow | RowError]) -> list[Grade]:
        good = [r for r in chunk if isinstance(r, QuizRow)]
        self.evidence.prefetch((r.question, _key(r), r.answer) for r in good)
        # Every text of the chunk is embedded in two batched calls: answers and archive sentences;
        # then the references cut from the sentences each answer is judged against.
        plans = {id(r): self._plan(r) for r in good}
        first: set[str] = set()
        for p in plans.values():
            first.update((p.row.question, p.answer, f"{p.row.question} {p.answer}"))
            first.update(s.text for s in self.evidence.sentences(p.row.question, p.key, p.answer))
            if p.speakers:
                first.update(s.text for s in self.evidence.anyone(p.row.question, p.answer))
            if p.key:
                first.update((p.key, f"{p.row.question} {p.key}"))
        self.tv.add(sorted(first))
        second: set[str] = set()
        for p in plans.values():
            self._choose(p)
            for sents, ref in filter(None, (p.support, p.key_support, p.elsewhere)):
                second.update((ref, f"{p.row.question} {ref}"))
                second.update(_word_forms(self.evidence.context(sents, p.voices(sents))))
            second.update(_word_forms(p.answer))
        self.tv.add(sorted(second))
        out = []
        for r in chunk:
            if isinstance(r, RowError):
                out.append(Grade(r, error=r.error))
                continue
            try:
                out.append(self._decide(plans[id(r)]))
            except Exception as exc:  # one row must not stop a class's grading
                out.append(Grade(r, error=f"could not grade this row: {exc}"))
        # Questions, keys, archive sentences and single words come back; answer-specific texts do not.
        lasting = set()
        for p in plans.values():
            lasting.update((p.row.question, p.key or "", f"{p.row.question} {p.key}"))
        self.tv.forget(lambda t: t in lasting or t in self.evidence.known or " " not in t.strip())
        return out

    def _narrow(self, q: str, text: str, options) -> Optional[tuple[list[Sentence], str]]:
        """The option that backs most of `text` (not the one the model likes best: a lenient pick
        would let a wrong answer choose the one passage that does not contradict it)."""
        if not options:
            return None
        ta, va = self.tv.tokens(text), self.tv.vec(text)
        a_new = set(content(text)) - set(content(q))

        # Measured on the sentences (already embedded) rather than on each candidate reference.
        def backing(opt) -> float:
            sents, ref = opt
            r_words = set(content(ref))
            prec = sum(_covered(w, r_words) for w in a_new) / len(a_new) if a_new else 0.0
            toks = np.concatenate([self.tv.tokens(x.text) for x in sents])
            bs_p, _, _ = soft_alignment(ta, toks)
            return prec + bs_p + 0.5 * max(float(va @ self.tv.vec(x.text)) for x in sents)

        return max(options, key=backing)

    def _plan(self, r: QuizRow) -> _Plan:
        key = _key(r)
        speakers = self.evidence.asked_speakers(r.question)
        says = None if speakers is None else (lambda s: self.evidence.says(s.doc, s.start, s.end, speakers))
        return _Plan(r, r.answer.strip(), key, self.evidence.sentences(r.question, key), speakers=speakers, says=says)

    def _choose(self, p: _Plan) -> None:
        q = p.row.question
        if not is_non_answer(p.answer):
            sents = self.evidence.sentences(q, p.key, p.answer)
            anyone = self.evidence.anyone(q, p.answer) if p.speakers else []
            # The search without the name may find the speaker's own words the engine's speaker
            # filter missed ("X commented that ..., and Y replied that ..."): they count as well.
            seen = {(s.doc, s.index) for s in sents}
            own = sents + [s for s in anyone if (s.doc, s.index) not in seen]
            p.support = self._narrow(q, p.answer, self._options(q, p.answer, own, p.own))
            if p.speakers:
                seen, others = set(), []
                for s in sents + anyone:
                    if not p.own(s) and (s.doc, s.index) not in seen:
                        seen.add((s.doc, s.index))
                        others.append(s)
                p.elsewhere = self._narrow(q, p.answer, self._options(q, p.answer, others, lambda s: not p.own(s)))
        if p.key:
            # The key's quote is the asked speaker's words when the archive has any near it.
            p.key_support = self._narrow(q, p.key, self._options(q, p.key, p.question_sentences, p.own)
                                         or self._options(q, p.key, p.question_sentences))

    def _options(
        self, q: str, text: str, sents: list[Sentence], allowed: Optional[Callable[[Sentence], bool]] = None
    ) -> list[tuple[list[Sentence], str]]:
        """The archive sentences (alone, or a pair close together) that best support `text`, each
        with the part of it `text` speaks to; only sentences `allowed` accepts, all of them when
        it is None."""
        if allowed is not None:
            sents = [s for s in sents if allowed(s)]
        if not sents:
            return []
        va, ta = self.tv.vec(text), self.tv.tokens(text)

        def prescore(s: Sentence) -> float:
            p, _, _ = soft_alignment(ta, self.tv.tokens(s.text))
            return 0.5 * float(va @ self.tv.vec(s.text)) + 0.5 * p + 0.1 * s.relevance

        ranked = sorted(sents, key=prescore, reverse=True)
        picks = [[s] for s in ranked[: self.OPTIONS]]
        best = ranked[0]
        near = [s for s in ranked[1:4] if s.doc == best.doc and 0 < abs(s.index - best.index) <= 2]
        if near:
            span = self._span(sorted([best, near[0]], key=lambda s: s.index))
            if allowed is None or all(allowed(s) for s in span):
                picks.append(span)
        out = []
        for sel in picks:
            passage = " ".join(s.text for s in sel)
            out.append((sel, aligned_reference(q, text, passage)))
        return out

    def _span(self, pair: list[Sentence]) -> list[Sentence]:
        """All sentences from the first to the last of `pair`, so the quote stays verbatim."""
        first, last = pair[0], pair[-1]
        spans = self.evidence.doc_spans(first.doc)[0]
        text = self.archive.document_text(first.doc)
        return [
            self.evidence.sentence_at(text, first.doc, s, e, i, first.source, first.relevance)
            for i, (s, e) in enumerate(spans[first.index : last.index + 1], start=first.index)
        ]

    def _judge_support(self, q: str, text: str, support) -> Optional[_Judgement]:
        return self.judge(q, text, support[1], support[0]) if support else None

    def _extract(self, sents: Optional[Sequence[Sentence]]) -> Optional[Extract]:
        return self.evidence.extract(sents) if sents else None

    def _decide(self, p: _Plan) -> Grade:
        r, q, a, key = p.row, p.row.question, p.answer, p.key
        key_ev = self._judge_support(q, key, p.key_support) if key else None
        if is_non_answer(a):
            shown = key_ev.sentences if key_ev else _about(q, self._about_pool(p))
            return Grade(r, "incorrect", 0.0, self._extract(shown), ["no answer given" if not a else "not an answer"])
        ev_j = self._judge_support(q, a, p.support)
        if key:
            return self._against_key(p, ev_j, key_ev)
        if ev_j is None:
            grade = Grade(r, "incorrect", 0.0, None, ["not supported by the archive: nothing in it answers this question"])
        else:
            grade = self._against_archive(p, ev_j)
        if p.elsewhere and grade.verdict != "correct":
            return self._said_by_others(p, grade) or grade
        return grade

    def _about_pool(self, p: _Plan) -> list[Sentence]:
        """The sentences to show for what the archive says about the question: the asked
        speaker's, when there are any."""
        return [s for s in p.question_sentences if p.own(s)] or p.question_sentences

    def _said_by_others(self, p: _Plan, own: Grade) -> Optional[Grade]:
        """An answer the asked speaker's words do not fully back but somebody else's do ("What did
        Rusk say …?" answered with Gromyko's words): not supported, and the reason names who said
        it.  Partly backed is no better: the part only somebody else said is the answer's point."""
        other = self._against_archive(p, self._judge_support(p.row.question, p.answer, p.elsewhere))
        if other.verdict != "correct":
            return None
        who = " and ".join(p.voices(p.elsewhere[0]))
        reason = f"the archive has this from {who}, not {' or '.join(p.speakers)}"
        return Grade(p.row, "incorrect", min(own.score or 0.0, 0.2), other.evidence, [reason])

    def _against_key(self, p: _Plan, ev_j: Optional[_Judgement], key_ev: Optional[_Judgement]) -> Grade:
        """The teacher's key decides.  The archive cannot judge completeness (a passage always
        says more than the answer needs), so it is only a witness: "the archive agrees" -- or, for
        an answer the key alone rejects, "it says less than the key, but nothing wrong" (partial)."""
        v = grade_with_key(p.row.question, p.answer, p.key, self.tv, self.model)
        if v.verdict == "incorrect":
            backed = ev_j is not None and self._against_archive(p, ev_j, complete=False).verdict == "correct"
            vague = vaguer_than_key(p.row.question, p.answer, p.key, self.tv, backed)
            if vague is not None:
                v = vague
        reasons = list(v.reasons)
        if v.verdict == "correct" and ev_j is not None and ev_j.proba["incorrect"] < 0.5:
            reasons.append("the archive agrees")
        shown = key_ev.sentences if key_ev else None
        return Grade(p.row, v.verdict, v.score, self._extract(shown), reasons)

    def _against_archive(self, p: _Plan, ev_j: _Judgement, complete: bool = True) -> Grade:
        """Without a key the evidence is the key -- but a passage is no model answer: it always says
        more than an answer needs, so completeness cannot be judged, only support.  An answer is
        correct when the model finds it supported and every claim in it is in the passage, partial
        when some claims are not, incorrect when most are not or the passage contradicts it.  With
        `complete`, a question asking how many or when also needs the number the passage gives."""
        q, a = p.row.question, p.answer
        support = ev_j.proba["correct"] + ev_j.proba["partial"]
        passage = self.evidence.context(ev_j.sentences or [], p.voices(ev_j.sentences or []))
        backing = unsupported_words(q, a, passage, self.tv)
        missing, share = backing.missing, backing.share
        score = support * (1.0 - share)
        # Names need no conflict check here: a name the passage lacks is an unsupported claim.
        reasons = _conflict_reasons(ev_j.comparison, "archive", names=False) if _short_enough(a) else []
        contradicted = bool(reasons)
        if contradicted:
            verdict, score = "incorrect", min(score, 0.2)
        elif not backing.claims:
            verdict, score = "incorrect", 0.0
            reasons = ["not supported by the archive: the answer says nothing beyond the question"]
        elif share >= UNSUPPORTED_WRONG or support < 0.5:
            verdict = "incorrect"
            reasons = [f"not supported by the archive: it says nothing of {', '.join(missing[:4])}" if missing
                       else "not supported by the archive"]
        elif share >= UNSUPPORTED_PARTIAL:
            verdict = "partial"
            reasons = [f"partly supported by the archive: it says nothing of {', '.join(missing[:4])}"]
        else:
            verdict, reasons = "correct", ["supported by the archive"]
            if missing:
                reasons.append(f"except {', '.join(missing[:4])}")
        shown = ev_j.sentences
        about = _about(q, self._about_pool(p))
        if verdict != "incorrect" and missing and about and ev_j.sentences and about[0].text not in passage:
            # The answer's number found in a sentence about something else, while the sentence
            # most about the question gives another, and the rest of the answer is not backed
            # either: the answer was matched to the wrong passage.
            topic = set(content_words(q)) - _FRAME
            cover = lambda ss: len(topic & set(content(" ".join(s.text for s in ss))))  # noqa: E731
            clash = number_conflict(q, a, about[0].text) if cover(about) > cover(ev_j.sentences) else None
            if clash:
                verdict, score, contradicted, shown = "incorrect", min(score, 0.2), True, about
                reasons = [f"number differs: answer says {', '.join(clash[0])}, archive says {', '.join(clash[1])}"]
        if complete and verdict == "correct" and QUANTITY_QUESTION.search(q):
            # A question asking how many, how large or when, answered without the number or time
            # the backing passage gives: right as far as it goes.
            qn = numbers(q)
            quoted = " ".join(s.text for s in ev_j.sentences or [])
            given = [v for k, v in numbers(quoted).items() if k not in qn]
            if given and not set(numbers(a)) - set(qn):
                verdict, score = "partial", min(score, 0.5)
                reasons = [f"partly answers the question: the archive also gives {', '.join(given[:3])}"]
        # The quote that justifies the mark: the passage that backs the answer, or contradicts it;
        # for an unsupported answer, what the archive does say about the question.
        if verdict == "incorrect" and not contradicted:
            shown = about or shown
        return Grade(p.row, verdict, round(score, 3), self._extract(shown), reasons)


def _about(question: str, sents: list[Sentence]) -> Optional[list[Sentence]]:
    """The retrieved sentence that covers most of the question's topic words (then: the engine's
    ranking) -- what the archive says about the question."""
    if not sents:
        return None
    topic = set(content_words(question)) - _FRAME
    best = max(sents, key=lambda s: (len(topic & set(content(s.text))), s.relevance))
    return [best]


def _key(r: QuizRow) -> Optional[str]:
    return (r.reference or "").strip() or None


def _short(text: str, limit: int = 80) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _conflict_reasons(c: Comparison, source: str, names: bool = True) -> list[str]:
    out = []
    if c.number_conflict:
        a, b = c.number_conflict
        out.append(f"number differs: answer says {', '.join(a)}, {source} says {', '.join(b)}")
    if c.name_conflict and names:
        a, b = c.name_conflict
        out.append(f"names differ: answer says {' '.join(a)}, {source} says {' '.join(b)}")
    if c.antonym:
        out.append(f"contradicts: answer says {c.antonym[0]}, {source} says {c.antonym[1]}")
    if c.negation_conflict and not c.antonym:
        out.append(f"contradicts: negation differs from the {source}")
    return out


# -- reading quizzes -------------------------------------------------------------------------------
# The same rules as `qa batch`, and its reader (qa.batch_input.read_text): a bad row becomes a
# RowError carried to the output; an unusable file raises QuizFileError (exit code 2).

KNOWN = ("id", "student", "question", "answer", "reference")
ALIASES = {"key": "reference", "student_answer": "answer", "name": "student"}


class QuizFileError(FileUnusable):
    """The quiz file cannot be read at all (missing, not UTF-8 text, no question/answer columns)."""


def detect_format(path: Path, text: Optional[str] = None) -> str:
    """csv or jsonl, by the file's suffix, else by its first character."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    return "jsonl" if (_read_text(path) if text is None else text).lstrip().startswith("{") else "csv"


def _read_text(path: Path) -> str:
    return read_text(path, QuizFileError, "quiz file")


def _canonical(name: object) -> str:
    key = str(name).strip().lstrip("\ufeff")
    low = key.lower()
    low = ALIASES.get(low, low)
    return low if low in KNOWN else key


def read_rows(path: Path | str) -> Iterator[QuizRow | RowError]:
    """QuizRows (or RowErrors for rows that cannot be graded) of a .csv or .jsonl quiz file.

    Raises QuizFileError before yielding anything when the file is unusable as a whole.
    """
    path = Path(path)
    text = _read_text(path)
    if not text.strip():
        raise QuizFileError(f"{path} is empty")
    return _csv_rows(path, text) if detect_format(path, text) == "csv" else _jsonl_rows(text)


def columns(path: Path | str) -> list[str]:
    """The input's columns in order (CSV header, or every key seen in a JSONL file)."""
    path = Path(path)
    text = _read_text(path)
    if detect_format(path, text) == "csv":
        header = next(csv.reader(io.StringIO(text, newline="")), [])
        return [_canonical(h) for h in header]
    seen: dict[str, None] = {}
    for _, obj in json_lines(text):
        if isinstance(obj, dict):
            seen.update((_canonical(k), None) for k in obj)
    return list(seen)


def _csv_rows(path: Path, text: str) -> Iterator[QuizRow | RowError]:
    dialect = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
    reader = csv.reader(io.StringIO(text, newline=""), dialect=dialect)
    try:
        header = [_canonical(h) for h in next(reader)]
    except (StopIteration, csv.Error) as exc:
        raise QuizFileError(f"{path}: no header row ({exc})") from None
    missing = [c for c in ("question", "answer") if c not in header]
    if missing:
        raise QuizFileError(f"{path}: no {' or '.join(missing)} column (the header is: {', '.join(header)})")
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise QuizFileError(f"{path}: duplicate column(s) {', '.join(dup)}")

    def rows() -> Iterator[QuizRow | RowError]:
        for start, end, values in csv_records(reader, text):
            if isinstance(values, csv.Error):
                yield RowError(start, f"unreadable CSV row: {values}")
                continue
            raw = dict(zip(header, values))
            if len(values) != len(header):
                yield RowError(start, f"row has {field_count_problem(text, start, end, values, header, reader.dialect)}", raw)
                continue
            yield _row(start, raw)

    return rows()


def _jsonl_rows(text: str) -> Iterator[QuizRow | RowError]:
    for n, obj in json_lines(text):
        if isinstance(obj, json.JSONDecodeError):
            yield RowError(n, f"invalid JSON: {obj}")
            continue
        if not isinstance(obj, dict):
            yield RowError(n, "a row must be a JSON object")
            continue
        yield _row(n, {_canonical(k): v for k, v in obj.items()})


def _text_field(raw: dict, name: str) -> Optional[str]:
    v = raw.get(name)
    if v is None:
        return None
    if isinstance(v, (dict, list)):
        raise ValueError(f"{name} must be text, not {type(v).__name__}")
    return v if isinstance(v, str) else str(v)


def _row(line: int, raw: dict) -> QuizRow | RowError:
    from .engine import BadQuestion, validate_question

    try:
        question = _text_field(raw, "question")
        answer = _text_field(raw, "answer")
        reference = _text_field(raw, "reference")
        ident, student = _text_field(raw, "id"), _text_field(raw, "student")
    except ValueError as exc:
        return RowError(line, str(exc), raw)
    if question is None:
        return RowError(line, "no question", raw)
    if answer is None:
        return RowError(line, "no answer field", raw)
    try:
        question = validate_question(question)
    except BadQuestion as exc:
        return RowError(line, str(exc), raw)
    for name, value in (("answer", answer), ("reference", reference or "")):
        if len(value) > MAX_ANSWER_CHARS:
            return RowError(line, f"the {name} is too long ({len(value)} characters; the limit is {MAX_ANSWER_CHARS})", raw)
        if any(ord(c) < 32 and c not in "\t\r\n" for c in value):
            return RowError(line, f"the {name} contains control characters", raw)
    extra = {k: v for k, v in raw.items() if k not in KNOWN}
    return QuizRow(line, question, answer, reference, ident, student, extra)


# -- writing results -------------------------------------------------------------------------------

OUTPUT_FIELDS = (
    "verdict", "score", "evidence", "evidence_doc", "evidence_start", "evidence_end",
    "evidence_line", "evidence_section", "evidence_reference", "reasons", "error",
)
FORMATS = ("csv", "jsonl", "md")


class Writer:
    """Writes each graded row as soon as it is graded (csv, jsonl) or a report at the end (md)."""

    def __init__(self, out: io.TextIOBase, fmt: str, input_columns: Sequence[str] = (), source: str = ""):
        self.out, self.fmt, self.source = out, fmt, source
        self.grades: list[Grade] = []
        self._csv = None
        if fmt == "csv":
            cols = [c for c in input_columns if c not in OUTPUT_FIELDS]
            for c in ("question", "answer", "reference"):
                if c not in cols:
                    cols.append(c)
            self._csv = csv.DictWriter(out, fieldnames=cols + list(OUTPUT_FIELDS), extrasaction="ignore", lineterminator="\n")
            with self._writing():
                self._csv.writeheader()
                out.flush()

    @contextmanager
    def _writing(self):
        """A file that stops taking rows (full disk, a file in /proc) is an OutputUnusable in words."""
        try:
            yield
        except BrokenPipeError:
            raise
        except OSError as exc:
            name = getattr(self.out, "name", "the output")
            raise OutputUnusable(f"cannot write {printable(name)}: {exc.strerror or exc}") from None

    def write(self, g: Grade) -> None:
        self.grades.append(g)
        row = g.to_json()
        with self._writing():
            if self.fmt == "jsonl":
                self.out.write(json.dumps(row, ensure_ascii=False) + "\n")
            elif self.fmt == "csv":
                row["reasons"] = "; ".join(row["reasons"])
                self._csv.writerow({k: ("" if v is None else v) for k, v in row.items()})
            else:
                return
            self.out.flush()

    def close(self) -> None:
        if self.fmt == "md":
            with self._writing():
                self.out.write(markdown_report(self.grades, self.source))
                self.out.flush()


@dataclass
class Summary:
    graded: int = 0
    errors: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {v: 0 for v in VERDICTS})
    mean_score: float = 0.0


def summarize(grades: Sequence[Grade]) -> Summary:
    s = Summary()
    scores = []
    for g in grades:
        if g.error or g.verdict is None:
            s.errors += 1
            continue
        s.graded += 1
        s.counts[g.verdict] += 1
        scores.append(g.score or 0.0)
    s.mean_score = sum(scores) / len(scores) if scores else 0.0
    return s


def _md(text: object) -> str:
    """Table-cell safe: one line, pipes escaped, control characters shown (qa.display)."""
    return printable(re.sub(r"\s+", " ", str(text))).replace("|", "\\|").strip()


def markdown_report(grades: Sequence[Grade], source: str = "") -> str:
    """A report a teacher can hand back: summary, hardest questions, then each answer with its
    verdict, reasons and the archive's quote (per student when the quiz names them)."""
    s = summarize(grades)
    ok = [g for g in grades if not g.error and g.verdict]
    out = ["# Quiz results" + (f": {_md(source)}" if source else ""), ""]
    out += ["## Summary", "", "| verdict | answers | share |", "|---|---:|---:|"]
    for v in VERDICTS:
        share = s.counts[v] / s.graded if s.graded else 0.0
        out.append(f"| {v} | {s.counts[v]} | {share:.0%} |")
    out += ["", f"Mean score: **{s.mean_score:.2f}** over {s.graded} graded answers"
            + (f"; {s.errors} rows could not be graded." if s.errors else "."), ""]
    by_q: dict[str, list[Grade]] = {}
    for g in ok:
        by_q.setdefault(g.row.question, []).append(g)
    if by_q:
        hardest = sorted(by_q.items(), key=lambda kv: (sum(g.score or 0 for g in kv[1]) / len(kv[1]), kv[0]))[:5]
        out += ["### Hardest questions", "", "| question | answers | mean score | correct |", "|---|---:|---:|---:|"]
        for q, gs in hardest:
            mean = sum(g.score or 0 for g in gs) / len(gs)
            right = sum(g.verdict == "correct" for g in gs)
            out.append(f"| {_md(q)} | {len(gs)} | {mean:.2f} | {right} |")
        out.append("")
    students = [g.row.student for g in ok if g.row.student]
    if students:
        for name in dict.fromkeys(students):
            mine = [g for g in ok if g.row.student == name]
            total = sum(g.score or 0 for g in mine)
            out += [f"## {_md(name)}", "", f"{sum(g.verdict == 'correct' for g in mine)} of {len(mine)} correct, "
                    f"score {total:.1f} / {len(mine)}", ""]
            out += _answers_md(mine)
        rest = [g for g in ok if not g.row.student]
        if rest:
            out += ["## Answers without a student name", ""] + _answers_md(rest)
    else:
        out += ["## Answers", ""] + _answers_md(ok)
    bad = [g for g in grades if g.error or not g.verdict]
    if bad:
        out += ["## Rows that could not be graded", "", "| line | error |", "|---:|---|"]
        out += [f"| {g.row.line} | {_md(g.error)} |" for g in bad]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _answers_md(grades: Sequence[Grade]) -> list[str]:
    out = []
    for n, g in enumerate(grades, 1):
        r = g.row
        out.append(f"### {n}. {_md(r.question)}")
        out.append("")
        out.append(f"- Answer: {_md(r.answer) or '*(blank)*'}")
        if r.reference:
            out.append(f"- Key: {_md(r.reference)}")
        out.append(f"- **{g.verdict}** (score {g.score:.2f}): {_md('; '.join(g.reasons))}")
        if g.evidence:
            out.append("")
            out.append("  > " + _md(g.evidence.quote))
            note = " (archivist's note, not the document's text)" if g.evidence.section == "metadata" else ""
            out.append(f"  > — {_md(printable(g.evidence.reference()))}{note}")
        out.append("")
    return out


# -- one call for front ends ------------------------------------------------------------------------


def grade_file(
    archive: "Archive",
    quiz: Path | str,
    out: io.TextIOBase,
    fmt: str,
    progress: Optional[Callable[[int], None]] = None,
    rows: Optional[list[QuizRow | RowError]] = None,
) -> Summary:
    """Grade every row of `quiz`, writing each result to `out` as soon as it is ready."""
    quiz = Path(quiz)
    rows = list(read_rows(quiz)) if rows is None else rows
    writer = Writer(out, fmt, columns(quiz) if fmt == "csv" else (), source=quiz.name)
    grader = Grader(archive)
    for g in grader.grade_many(rows):
        writer.write(g)
        if progress:
            progress(1)
    writer.close()
    return summarize(writer.grades)
