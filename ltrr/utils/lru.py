"""A small bounded mapping that forgets the least recently used key."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Hashable, Iterator


class LRU:
    """A bounded mapping that forgets the least recently used key (``maxsize`` 0 keeps nothing).

    Parameters
    ----------
    maxsize : int
        Entries kept.

    Attributes
    ----------
    hits, misses : int
        Counts of :meth:`get` calls that found / did not find their key.
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize, self.data = int(maxsize), OrderedDict()
        self.hits = self.misses = 0

    def get(self, key: Hashable) -> Any:
        """The cached value (now the most recently used) or ``None``."""
        value = self.data.get(key)
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
            self.data.move_to_end(key)
        return value

    def put(self, key: Hashable, value: Any) -> None:
        """Store ``value``, evicting the oldest entry when full."""
        if self.maxsize <= 0:
            return
        self.data[key] = value
        self.data.move_to_end(key)
        while len(self.data) > self.maxsize:
            self.data.popitem(last=False)

    def clear(self) -> None:
        """Forget every entry and the counters."""
        self.data.clear()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self.data)

    def __contains__(self, key: Hashable) -> bool:
        return key in self.data

    def __iter__(self) -> Iterator[Hashable]:
        """Keys, least recently used first."""
        return iter(self.data)
