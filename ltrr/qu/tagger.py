"""Slot tagging from catalogue dictionaries: spelling correction, then longest-match of known phrases.

Nothing here is written per query. The artist, title, album and genre dictionaries are the catalogue's own
values; moods, activities, entity types, eras, "new" and requests for the listener's own taste ("play something for
me": slot ``personal``) come from :mod:`ltrr.qu.lexicon`; the speller's vocabulary is every word of those
dictionaries, weighted by how often it occurs (SymSpell, edit distance 1 for words of 4-6 letters and 2 from 7
letters up; shorter words and numbers are never corrected).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from symspellpy import SymSpell, Verbosity

from ltrr.data.known_item import base_title
from ltrr.qu.lexicon import DECADE_WORDS, ENTITY_TYPES, FACETS, NEW_WORDS, PERSONAL_WORDS
from ltrr.types import Doc
from ltrr.utils.text import name_variants, tokens

NAME_SLOTS = ("artist", "title", "album", "genre")
_YEAR = re.compile(r"^(19[0-9]{2}|20[0-9]{2})$")
_DECADE = re.compile(r"^(?:19|20)?([0-9])0s$")
_SINGLE_WORD_SKIP = frozenset("a an and the of for to in on by with from at is it my me i you your".split())


@dataclass(frozen=True)
class Slot:
    """A tagged span: ``words[start:end]`` of the corrected query is a ``name`` with canonical ``value``."""

    name: str
    value: str
    start: int
    end: int


@dataclass(frozen=True)
class ParsedQuery:
    """Result of :meth:`QueryUnderstanding.parse`.

    Attributes
    ----------
    words : tuple[str, ...]
        Folded words as typed.
    corrected : tuple[str, ...]
        Same length; misspelt words replaced by the closest catalogue word.
    known : tuple[bool, ...]
        Whether each corrected word is in the catalogue vocabulary.
    slots : tuple[Slot, ...]
    """

    words: tuple[str, ...]
    corrected: tuple[str, ...]
    known: tuple[bool, ...]
    slots: tuple[Slot, ...]

    def of(self, name: str) -> list[Slot]:
        """Slots called ``name``."""
        return [s for s in self.slots if s.name == name]

    def slot_names_at(self, i: int) -> set[str]:
        """Names of the slots covering word ``i``."""
        return {s.name for s in self.slots if s.start <= i < s.end}

    def as_dict(self) -> dict[str, list[str]]:
        """``{slot name: [values]}``, e.g. for logging or bandit features."""
        out: dict[str, list[str]] = defaultdict(list)
        for s in self.slots:
            out[s.name].append(s.value)
        return dict(out)


def _name_values(doc: Doc, slot: str, field: str) -> list[str]:
    raw = doc.title if field == "title" else doc.metadata.get(field)
    if not raw:
        return []
    text = str(raw)
    out = [text]
    if slot in ("title", "album"):  # "Memories - Dillon Francis Remix", "Song (feat. X)" -> also the bare name
        base = base_title(text)
        if base != text:
            out.append(base)
    return [v for t in out for v in name_variants(t)]


class QueryUnderstanding:
    """Spelling correction and slot tagging built from a catalogue.

    Parameters
    ----------
    docs : sequence of Doc
    name_fields : mapping of str to str
        Slot -> field holding its values (``title`` is ``Doc.title``; others are metadata keys).
    max_ngram : int
        Longest phrase, in words, that is looked up.
    """

    def __init__(self, docs: Sequence[Doc], name_fields: Mapping[str, str] | None = None, max_ngram: int = 8) -> None:
        fields = dict(name_fields or {s: s for s in NAME_SLOTS})
        self.max_ngram = max_ngram
        self.phrases: dict[str, dict[str, str]] = defaultdict(dict)  # phrase -> {slot: canonical value}
        counts: Counter[str] = Counter()
        for doc in docs:
            for slot, field in fields.items():
                for value in _name_values(doc, slot, field):
                    toks = tokens(value)
                    if toks and len(toks) <= max_ngram:
                        self.phrases[" ".join(toks)][slot] = value
                    counts.update(toks)
        self.types = {str(d.metadata["type"]) for d in docs if d.metadata.get("type")}
        for facet in FACETS:
            for w in facet.words:
                self.phrases[" ".join(tokens(w))][facet.slot] = facet.value
        for kind, words in ENTITY_TYPES.items():
            if kind in self.types:
                for w in words:
                    self.phrases.setdefault(w, {}).setdefault("type", kind)
        for w in NEW_WORDS:
            self.phrases[" ".join(tokens(w))]["new"] = "new"
        lexicon_words = [t for p in self.phrases for t in p.split()]
        counts.update(lexicon_words)
        for w in PERSONAL_WORDS:  # a catalogue name that is also such a phrase keeps both slots
            self.phrases[" ".join(tokens(w))]["personal"] = "me"
            counts.update(t for t in tokens(w) if len(t) >= 4)  # function words ("of", "me") stay unknown
        self.vocab = set(counts)
        self.speller = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
        for w, n in counts.items():
            if len(w) >= 3 and not w.isdigit():
                self.speller.create_dictionary_entry(w, n)

    def correct(self, word: str) -> tuple[str, bool]:
        """Closest vocabulary word and whether the result is known (``word`` unchanged when none is close)."""
        if word in self.vocab:
            return word, True
        if len(word) < 4 or any(c.isdigit() for c in word):
            return word, False
        hits = self.speller.lookup(word, Verbosity.TOP, max_edit_distance=1 if len(word) <= 6 else 2)
        return (hits[0].term, True) if hits else (word, False)

    def parse(self, text: str) -> ParsedQuery:
        """Correct and tag ``text`` (greedy longest match, left to right)."""
        words = tuple(tokens(text)[:64])
        fixed = [self.correct(w) for w in words]
        corrected = tuple(w for w, _ in fixed)
        slots: list[Slot] = []
        i = 0
        while i < len(corrected):
            step = 1
            for n in range(min(self.max_ngram, len(corrected) - i), 0, -1):
                phrase = " ".join(corrected[i:i + n])
                hit = self.phrases.get(phrase)
                if hit and not (n == 1 and phrase in _SINGLE_WORD_SKIP):
                    slots.extend(Slot(name, value, i, i + n) for name, value in sorted(hit.items()))
                    step = n
                    break
            i += step
        named = {j for s in slots for j in range(s.start, s.end) if s.name in ("title", "album", "artist")}
        slots.extend(s for s in self._eras(words) if s.start not in named)  # "Tonight - Remastered 2012"
        return ParsedQuery(words, corrected, tuple(k for _, k in fixed), tuple(slots))

    @staticmethod
    def _eras(words: Iterable[str]) -> list[Slot]:
        out = []
        for i, w in enumerate(words):
            if _YEAR.match(w):
                out.append(Slot("year", w, i, i + 1))
            elif m := _DECADE.match(w):
                digit = int(m.group(1))
                century = 1900 if (w.startswith("19") or (len(w) == 3 and digit >= 3)) else 2000
                out.append(Slot("decade", str(century + 10 * digit), i, i + 1))
            elif w in DECADE_WORDS:
                out.append(Slot("decade", str(DECADE_WORDS[w]), i, i + 1))
        return out
