"""People of an archive: who a surname, a titled name or a full name stands for.

A person is a surname with the first names and titles the archive gives it. Full names come from
the documents' headers (participants, authors, recipients) and their text ("Attorney General
Robert Kennedy", "John F. Kennedy", not at a sentence start where "Believe Khrushchev" is
telegraphese). Two first names under one surname are two people only when the archive gives
each a title and the titles differ (the President and the Attorney General); otherwise they are
spellings of one person ("Tommy" and "Llewellyn" Thompson, both ambassadors).

Each person is shown under a display name: the most frequent full form the archive gives
("Robert Kennedy", "Dean Rusk"), else the surname. The table is plain JSON (it is part of the
index's signature): surname -> people, most mentioned first.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Iterable, Optional

Person = dict  # {"name": display, "first": [first names, lowercase], "titles": [title keys], "mentions": n}


def _after_titles(words: list[str]) -> list[str]:
    """The words after the last title or honorific ("Foreign Minister Andrei" -> ["Andrei"])."""
    from .speakers import _HONOR_SET, _TITLE_SET

    cut = 0
    for i, w in enumerate(words):
        bare = w.strip(".,").lower()
        if bare in _TITLE_SET or bare in _HONOR_SET or bare in ("the", "of"):
            cut = i + 1
    return words[cut:]


def _first_name(words: list[str], lower_words: frozenset = frozenset()) -> Optional[str]:
    """The first name of a name's words before the surname ("John F." -> "john"; "N.S." -> "n").
    A word the archive also writes in lowercase ("State", "Foreign") is no first name."""
    from .speakers import _HONOR_SET, _NAME_STOP, _TITLE_SET

    for w in _after_titles(words):
        if w.strip(".,").lower() in lower_words:
            return None
        bare = w.strip(".,").lower()
        if not bare or bare in _TITLE_SET or bare in _HONOR_SET or w in _NAME_STOP or bare == "the":
            continue
        if not w[:1].isupper():
            return None
        return bare.split(".")[0][:1] if re.fullmatch(r"(?:[A-ZА-Я]\.\s?)+", w) else bare
    return None


def _full_form(words: list[str]) -> Optional[str]:
    """'John F. Kennedy' from ['President', 'John', 'F.', 'Kennedy']: the name from its first name on."""
    from .speakers import _HONOR_SET, _TITLE_SET

    words = _after_titles(words[:-1]) + words[-1:]
    if len(words) > 1 and len(words[0].strip(".,")) > 1 and "." not in words[0]:  # not initials
        return " ".join(words)
    return None


def archive_people(documents: Iterable, aliases: dict[str, str]) -> dict[str, list[Person]]:
    """surname -> the people of that surname in the archive (see the module docstring)."""
    from .speakers import _NAME, _TITLED_RE, _title_keys, canonical_speaker

    # per surname: first name -> Counter of full forms, set of titles, mentions
    forms: dict[str, dict[str, Counter]] = {}
    titles: dict[str, dict[str, set]] = {}
    bare_titles: dict[str, Counter] = {}
    mentions: dict[str, Counter] = {}
    name_re = re.compile(rf"(?<![\w.])({_NAME})(?![\w’'])")
    documents = list(documents)
    lower_words = frozenset(w for doc in documents for w in re.findall(r"\b[a-z]+\b", doc.text))

    def add(surname: str, name_words: list[str], keys: Iterable[str]) -> None:
        first = _first_name(name_words[:-1], lower_words) if len(name_words) > 1 else None
        keys = [k for k in keys if k]
        if first is None:
            c = bare_titles.setdefault(surname, Counter())
            for k in keys:
                c[k] += 1
            return
        forms.setdefault(surname, {}).setdefault(first, Counter())
        full = _full_form(name_words)
        if full and not any(w.lower() in lower_words for w in full.split()[:-1]):
            forms[surname][first][full] += 1
        titles.setdefault(surname, {}).setdefault(first, set()).update(keys)
        mentions.setdefault(surname, Counter())[first] += 1

    for doc in documents:
        meta = doc.meta
        people = [p for p in list(meta.participants or []) + list(meta.authors or []) + list(meta.recipients or [])
                  if isinstance(p, dict) and p.get("kind", "person") == "person" and p.get("name")]
        for p in people:
            surname = canonical_speaker(p["name"], aliases)
            role = (p.get("role") or "").split(",")[0]
            add(surname, p["name"].split(), _title_keys(role + " ") if role else [])
        for m in _TITLED_RE.finditer(doc.text):
            tn = m.group("tn").split()
            surname = canonical_speaker(m.group("tn"), aliases)
            add(surname, tn, _title_keys(m.group(0)[: m.start("tn") - m.start()]))
        for m in name_re.finditer(doc.text):
            ws = m.group(1).split()
            if len(ws) < 2 or len(ws) > 3 or (len(ws) == 3 and not re.fullmatch(r"[A-Z]\.", ws[1])):
                continue  # "John Kennedy", "John F. Kennedy"; not a run of names
            before = doc.text[max(0, m.start() - 3):m.start()].rstrip(" \t")
            if not before or before[-1] in ".!?:\n\"“(":
                continue  # a sentence or line start: the first word may be any word
            add(canonical_speaker(m.group(1), aliases), ws, [])

    out: dict[str, list[Person]] = {}
    for surname, by_first in sorted(forms.items()):
        tset = titles.get(surname, {})
        # first names with titles, most mentioned first; untitled ones join the most mentioned
        groups: list[dict] = []
        order = sorted(by_first, key=lambda f: (-mentions[surname][f], f))
        for f in order:
            ts = tset.get(f, set())
            home = None
            for g in groups:
                if not ts or not g["titles"] or g["titles"] & ts or _same_first(f, g["first"]):
                    home = g
                    break
            if home is None:
                groups.append({"first": [f], "titles": set(ts), "forms": Counter(by_first[f]),
                               "mentions": mentions[surname][f]})
            else:
                home["first"].append(f)
                home["titles"] |= ts
                home["forms"].update(by_first[f])
                home["mentions"] += mentions[surname][f]
        # titled mentions without a first name count for the person holding that title
        for k, n in bare_titles.get(surname, Counter()).items():
            holders = [g for g in groups if k in g["titles"]]
            if len(holders) == 1:
                holders[0]["mentions"] += n
            elif not holders and len(groups) == 1:
                groups[0]["titles"].add(k)
                groups[0]["mentions"] += n
        people = []
        for g in sorted(groups, key=lambda g: (-g["mentions"], g["first"][0])):
            full = [(n, f) for f, n in g["forms"].items()]
            name = min(full, key=lambda x: (-x[0], -len(x[1]), x[1]))[1] if full else surname
            people.append({"name": name, "first": sorted(g["first"]), "titles": sorted(g["titles"]),
                           "mentions": g["mentions"]})
        if len(people) == 1 and people[0]["mentions"] < 2:
            continue  # one passing full name is too little to name every bare mention after it
        if len(people) > 1 or people[0]["name"] != surname:
            out[surname] = people
    return out


def _same_first(f: str, firsts: list[str]) -> bool:
    """An initial matches the first names it abbreviates ("j" and "john")."""
    return any(f == g or (len(f) == 1 and g.startswith(f)) or (len(g) == 1 and f.startswith(g)) for g in firsts)


def choose(people: list[Person], first: Optional[str] = None, keys: Iterable[str] = (),
           context: Iterable[str] = ()) -> Person:
    """The one of a surname's people a mention means: by its first name, then its title, then the
    people its document names in full (`context`: display names), then the most mentioned."""
    if len(people) == 1:
        return people[0]
    if first:
        hit = [p for p in people if _same_first(first, p["first"])]
        if len(hit) == 1:
            return hit[0]
    keys = set(keys)
    if keys:
        # the most specific title first ("attorney general" before "general")
        for k in sorted(keys, key=len, reverse=True):
            hit = [p for p in people if k in p["titles"]]
            if len(hit) == 1:
                return hit[0]
    context = set(context)
    hit = [p for p in people if p["name"] in context]
    if len(hit) == 1:
        return hit[0]
    return people[0]
