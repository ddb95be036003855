"""Text normalisation shared by arms and query understanding."""

from __future__ import annotations

import re
import unicodedata

_TOKEN = re.compile(r"[a-z0-9]+")


def fold(text: str) -> str:
    """Lowercase and strip accents (``"Beyoncé"`` -> ``"beyonce"``)."""
    norm = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in norm if not unicodedata.combining(ch))


def tokens(text: str) -> list[str]:
    """Alphanumeric tokens of the folded text."""
    return _TOKEN.findall(fold(text))


def normalize_query(text: str) -> str:
    """Canonical form of a query used as a memory key: folded tokens joined by single spaces."""
    return " ".join(tokens(text))


def name_variants(text: str) -> list[str]:
    """``text`` and, when it has apostrophes, the form users type without them (``"Don't"`` -> ``"Dont"``)."""
    bare = text.replace("'", "").replace("\u2019", "")
    return [text] if bare == text else [text, bare]
