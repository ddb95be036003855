"""Pickle-free state files: nested dicts of arrays and JSON values in one ``.npz``, written atomically.

A state dict (a policy's, the arms') is a tree of ``dict`` nodes whose leaves are numpy arrays, numbers,
strings, ``None`` or JSON-able lists. :func:`save_state` stores every array leaf as its own npz member (a
reference in the tree points to it) and everything else as one JSON member, so :func:`load_state` reads it back with
``allow_pickle=False``: a state file cannot run code. Writes go to a temporary file in the same folder, are
fsynced, then renamed over the target (``os.replace`` is atomic on POSIX), so a crash leaves either the old or the
new file, never a torn one.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable, Mapping

import numpy as np

_JSON_KEY = "__json__"
_REF = "__array__"


def _split(tree: Mapping[str, Any], path: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Move array leaves of ``tree`` into ``arrays`` (members ``a0``, ``a1``, ...), leaving ``{"__array__":
    name}`` in their place; return the JSON remainder. Keys may be any strings."""
    rest: dict[str, Any] = {}
    for key, val in tree.items():
        key, where = str(key), f"{path}/{key}" if path else str(key)
        if isinstance(val, Mapping):
            if _REF in val:
                raise ValueError(f"state entry {where!r}: the key {_REF!r} is reserved")
            rest[key] = _split(val, where, arrays)
        elif isinstance(val, np.ndarray):
            if val.dtype == object:
                raise TypeError(f"state entry {where!r}: object arrays are not supported (they need pickle)")
            name = f"a{len(arrays)}"
            arrays[name] = val
            rest[key] = {_REF: name}
        elif isinstance(val, np.generic):
            rest[key] = val.item()
        else:
            rest[key] = val
    return rest


def _not_json(tree: Mapping[str, Any], path: str = "") -> str:
    """Path of the first leaf of ``tree`` that JSON cannot encode (called only after a failed dump)."""
    for key, val in tree.items():
        where = f"{path}/{key}" if path else str(key)
        if isinstance(val, Mapping):
            bad = _not_json(val, where)
            if bad:
                return bad
        else:
            try:
                json.dumps(val)
            except (TypeError, ValueError):
                return f"{where!r}: {type(val).__name__}"
    return ""


def _join(tree: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    if isinstance(tree, dict):
        if set(tree) == {_REF}:
            return arrays[tree[_REF]]
        return {k: _join(v, arrays) for k, v in tree.items()}
    return tree


def detached(tree: Any) -> Any:
    """A copy of a state tree that later changes to the live objects cannot reach: arrays are copied, mappings
    rebuilt, lists and tuples copied one level deep (components build the lists of their ``state_dict`` afresh).
    Several times cheaper than :func:`copy.deepcopy` on a serving pipeline's state."""
    if isinstance(tree, Mapping):
        return {k: detached(v) for k, v in tree.items()}
    if isinstance(tree, np.ndarray):
        return tree.copy()
    if isinstance(tree, (list, tuple)):
        return list(tree)
    return tree


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file inside ``path`` durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path | str, write: Callable[[BinaryIO], Any]) -> None:
    """Call ``write(file_object)`` on a temporary file in ``path``'s folder, fsync it, then rename it onto ``path``
    (atomic on POSIX) and fsync the folder: a crash leaves the old file or the new one, never a torn one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """:func:`atomic_write` of ``data``."""
    atomic_write(path, lambda fh: fh.write(data))


def save_state(path: Path | str, state: Mapping[str, Any]) -> None:
    """Write a state tree to ``path`` (``.npz``) atomically.

    Parameters
    ----------
    path : path-like
    state : mapping
        Nested dicts; leaves are numpy arrays (any non-object dtype) or JSON-able values.

    Raises
    ------
    TypeError
        A leaf is neither an array nor JSON-able (the message names its path).
    """
    arrays: dict[str, np.ndarray] = {}
    rest = _split(state, "", arrays)
    try:
        blob = json.dumps(rest)
    except (TypeError, ValueError):
        raise TypeError(f"state entry {_not_json(rest)} is neither an array nor JSON-able") from None
    buf = io.BytesIO()
    np.savez(buf, **{_JSON_KEY: np.array(blob)}, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def load_state(path: Path | str) -> dict[str, Any]:
    """Read a file written by :func:`save_state` (never unpickles).

    Raises
    ------
    ValueError
        The file is not a state file (names the file).
    """
    try:
        z = np.load(path, allow_pickle=False)
    except Exception as err:  # missing, torn or foreign file
        raise ValueError(f"{path}: unreadable state file: {err}") from None
    with z:
        if _JSON_KEY not in z.files:
            raise ValueError(f"{path}: not an ltrr state file (no {_JSON_KEY} member)")
        try:
            tree = json.loads(str(z[_JSON_KEY]))
            arrays = {k: z[k] for k in z.files if k != _JSON_KEY}
        except Exception as err:  # a truncated member, object arrays (would need pickle), bad JSON
            raise ValueError(f"{path}: unreadable state file: {err}") from None
    return _join(tree, arrays)
