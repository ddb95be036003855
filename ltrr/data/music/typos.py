"""Realistic misspellings: phonetic swaps ("taylor" -> "tayler"), dropped, doubled, swapped and mistyped keys."""

from __future__ import annotations

import numpy as np

PHONETIC = [("or", "er"), ("er", "or"), ("ph", "f"), ("y", "i"), ("i", "y"), ("ou", "u"), ("ck", "k"),
            ("c", "k"), ("s", "z"), ("ie", "y"), ("ee", "ea"), ("ai", "ay"), ("ght", "te"), ("qu", "kw")]
_ROWS = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
_NEIGHBOURS = {
    ch: "".join(r[j] for j in (i - 1, i + 1) if 0 <= j < len(r)) for r in _ROWS for i, ch in enumerate(r)
}


def misspell_word(word: str, rng: np.random.Generator) -> str:
    """Return one plausible misspelling of ``word`` (unchanged when shorter than 4 characters)."""
    if len(word) < 4:
        return word
    phon = [(a, b) for a, b in PHONETIC if a in word[1:]]
    kind = rng.choice(["phonetic", "drop", "double", "swap", "key"], p=[0.4, 0.15, 0.15, 0.15, 0.15])
    if kind == "phonetic" and phon:
        a, b = phon[rng.integers(len(phon))]
        pos = word.index(a, 1)
        return word[:pos] + b + word[pos + len(a):]
    i = int(rng.integers(1, len(word) - 1))
    if kind == "drop":
        return word[:i] + word[i + 1:]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    near = _NEIGHBOURS.get(word[i], "")
    return word[:i] + (near[rng.integers(len(near))] if near else word[i]) + word[i + 1:]


def misspell(text: str, rng: np.random.Generator, max_words: int = 2) -> str:
    """Misspell one or two of the longer words of ``text``."""
    words = text.split()
    long_idx = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not long_idx:
        return text
    n = min(len(long_idx), int(rng.integers(1, max_words + 1)))
    for i in rng.choice(long_idx, size=n, replace=False):
        words[i] = misspell_word(words[i], rng)
    return " ".join(words)
