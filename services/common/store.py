"""A bounded in-memory store: the oldest evictable entries go first when it is full."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class BoundedStore(Generic[T]):
    def __init__(self, max_items: int) -> None:
        if max_items < 1:
            raise ValueError("max_items must be >= 1")
        self.max_items = max_items
        self._items: OrderedDict[str, T] = OrderedDict()
        self._pinned: set[str] = set()
        self.evicted = 0

    def put(self, key: str, value: T, pinned: bool = False) -> None:
        self._items[key] = value
        if pinned:
            self._pinned.add(key)
        while len(self._items) > self.max_items:
            victim = next((k for k in self._items if k not in self._pinned), None)
            if victim is None:
                break
            del self._items[victim]
            self.evicted += 1

    def get(self, key: str) -> T | None:
        return self._items.get(key)

    def page(self, limit: int, offset: int, newest_first: bool = False) -> list[T]:
        values = list(self._items.values())
        if newest_first:
            values.reverse()
        return values[offset : offset + limit]

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[T]:
        return iter(self._items.values())
