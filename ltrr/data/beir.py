"""Loader for the BEIR layout: ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv``.

Files are streamed line by line. Malformed input raises :class:`DatasetFormatError` naming the file and the
line; with ``on_error="skip"`` the bad line is logged and collected instead, and everything accepted is kept.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Literal

from ltrr.types import Doc, Query

log = logging.getLogger(__name__)

OnError = Literal["raise", "skip"]


class DatasetFormatError(ValueError):
    """Malformed dataset input; the message starts with ``<file>:<line>:``."""

    def __init__(self, path: Path | str, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path, self.line, self.reason = str(path), line, reason


@dataclass
class BeirDataset:
    """A loaded BEIR dataset.

    Attributes
    ----------
    corpus : dict[str, Doc]
        Documents by id, in file order.
    queries : dict[str, Query]
        Queries by id.
    qrels : dict[str, dict[str, int]]
        ``qrels[query_id][doc_id] = grade`` for the loaded split.
    errors : list[DatasetFormatError]
        Lines skipped when loading with ``on_error="skip"``.
    """

    corpus: dict[str, Doc]
    queries: dict[str, Query]
    qrels: dict[str, dict[str, int]]
    errors: list[DatasetFormatError] = field(default_factory=list)


def _fail(err: DatasetFormatError, on_error: OnError, errors: list[DatasetFormatError]) -> None:
    if on_error == "raise":
        raise err
    log.warning("skipping %s", err)
    errors.append(err)


def _iter_jsonl(path: Path, on_error: OnError, errors: list) -> Iterator[tuple[int, str, dict]]:
    """Yield ``(line, id, record)`` for every JSON object with a new, non-empty ``_id`` (removed from the record)."""
    seen: set[str] = set()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                _fail(DatasetFormatError(path, lineno, f"invalid JSON ({exc.msg})"), on_error, errors)
                continue
            if not isinstance(rec, dict):
                _fail(DatasetFormatError(path, lineno, "record is not a JSON object"), on_error, errors)
                continue
            rid = rec.pop("_id", None)
            if rid is None or str(rid).strip() == "":
                _fail(DatasetFormatError(path, lineno, "missing field '_id'"), on_error, errors)
                continue
            if str(rid) in seen:
                _fail(DatasetFormatError(path, lineno, f"duplicate _id {str(rid)!r}"), on_error, errors)
                continue
            seen.add(str(rid))
            yield lineno, str(rid), rec


def iter_corpus(path: Path | str, on_error: OnError = "raise", errors: list | None = None) -> Iterator[Doc]:
    """Stream documents from a ``corpus.jsonl`` file.

    Every field besides ``_id``, ``title`` and ``text`` is kept in :attr:`Doc.metadata`.
    Duplicate ids are an error.
    """
    path, errors = Path(path), errors if errors is not None else []
    for lineno, did, rec in _iter_jsonl(path, on_error, errors):
        title, text = rec.pop("title", "") or "", rec.pop("text", "") or ""
        if not isinstance(title, str) or not isinstance(text, str):
            _fail(DatasetFormatError(path, lineno, "'title' and 'text' must be strings"), on_error, errors)
            continue
        yield Doc(id=did, title=title, text=text, metadata=rec)


def iter_queries(path: Path | str, on_error: OnError = "raise", errors: list | None = None) -> Iterator[Query]:
    """Stream queries from a ``queries.jsonl`` file (``_id``, ``text``, any metadata)."""
    path, errors = Path(path), errors if errors is not None else []
    for lineno, qid, rec in _iter_jsonl(path, on_error, errors):
        text = rec.pop("text", None)
        if not isinstance(text, str):
            _fail(DatasetFormatError(path, lineno, "missing or non-string field 'text'"), on_error, errors)
            continue
        yield Query(id=qid, text=text, user_id=rec.pop("user_id", None), metadata=rec)


def load_qrels(
    path: Path | str,
    doc_ids: set[str] | dict | None = None,
    query_ids: set[str] | dict | None = None,
    on_error: OnError = "raise",
    errors: list | None = None,
) -> dict[str, dict[str, int]]:
    """Read a qrels TSV (``query-id  corpus-id  score``, optional header).

    Parameters
    ----------
    path : path-like
        The TSV file.
    doc_ids, query_ids : set or dict, optional
        Known ids; a judgment pointing elsewhere is an error.
    """
    path, errors, qrels = Path(path), errors if errors is not None else [], {}
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    with path.open(encoding="utf-8", newline="") as fh:
        for lineno, row in enumerate(csv.reader(fh, delimiter="\t"), start=1):
            if not row or not "".join(row).strip():
                continue
            if lineno == 1 and row[0].strip().lower() in {"query-id", "query_id", "qid"}:
                continue
            if len(row) < 3:
                _fail(DatasetFormatError(path, lineno, f"expected 3 tab-separated columns, got {len(row)}"),
                      on_error, errors)
                continue
            qid, did, score = row[0].strip(), row[1].strip(), row[2].strip()
            try:
                grade = int(float(score))
            except ValueError:
                _fail(DatasetFormatError(path, lineno, f"score {score!r} is not a number"), on_error, errors)
                continue
            if query_ids is not None and qid not in query_ids:
                _fail(DatasetFormatError(path, lineno, f"unknown query id {qid!r}"), on_error, errors)
                continue
            if doc_ids is not None and did not in doc_ids:
                _fail(DatasetFormatError(path, lineno, f"unknown corpus id {did!r}"), on_error, errors)
                continue
            qrels.setdefault(qid, {})[did] = grade
    return qrels


def load_beir(root: Path | str, split: str = "test", on_error: OnError = "raise") -> BeirDataset:
    """Load a dataset in the BEIR layout.

    Parameters
    ----------
    root : path-like
        Folder holding ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv``.
    split : str
        Which qrels file to read.
    on_error : {"raise", "skip"}
        Raise on the first malformed line, or log it, keep going and collect it in ``errors``.

    Returns
    -------
    BeirDataset
    """
    root = Path(root)
    errors: list[DatasetFormatError] = []
    corpus = {d.id: d for d in iter_corpus(root / "corpus.jsonl", on_error, errors)}
    queries = {q.id: q for q in iter_queries(root / "queries.jsonl", on_error, errors)}
    qrels = load_qrels(root / "qrels" / f"{split}.tsv", corpus, queries, on_error, errors)
    log.info("loaded %s: %d docs, %d queries, %d judged queries (%s)", root, len(corpus), len(queries),
             len(qrels), split)
    return BeirDataset(corpus=corpus, queries=queries, qrels=qrels, errors=errors)
