"""The merge state of entity resolution: nodes of mentions that share a matching key, and a
union-find over them that remembers why every pair of nodes was joined.

``extract.resolve`` applies the merge rules to a ``Merger``; ``extract.resolution`` reads the
merged nodes off as entities, merge records and synonym links.

>>> a, b = NameNode("NAME", "ada", ""), NameNode("NAME", "ada lovelace", "")
>>> m = Merger([a, b])
>>> m.merge(0, 1, "person-name", 0.9), m.uf.find(1)
(True, 0)
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property

from kg.model import Mention

from .names import coarse_type, majority_type, most_frequent


@dataclass
class NameNode:
    """Mentions sharing one matching key (``scope`` is a document id for a document-local surname)."""

    family: str
    key: str
    scope: str
    target: str = ""  # document-local surname or acronym: the key of the name it stands for
    target_reason: str = ""  # person-name | acronym
    mentions: list[Mention] = field(default_factory=list)

    def __post_init__(self):
        self.surfaces: Counter[str] = Counter()
        self.types: Counter[str] = Counter()
        self.docs: set[str] = set()

    def add(self, mention: Mention) -> None:
        self.mentions.append(mention)
        self.surfaces[mention.text] += 1
        self.types[coarse_type(mention.label)] += 1
        self.docs.add(mention.doc_id)

    @cached_property
    def ctype(self) -> str:
        """Majority coarse type (read once all mentions are added)."""
        return majority_type(self.types)

    @cached_property
    def surface(self) -> str:
        """Most frequent surface form (read once all mentions are added)."""
        return most_frequent(self.surfaces)


class _UnionFind:
    def __init__(self, size: int):
        self.parent = list(range(size))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> bool:
        ra, rb = sorted((self.find(a), self.find(b)))
        if ra == rb:
            return False
        self.parent[rb] = ra
        return True


class Merger:
    """Union-find over nodes that remembers the edge (reason, score) behind every successful union."""

    def __init__(self, nodes: list[NameNode]):
        self.nodes = nodes
        self.uf = _UnionFind(len(nodes))
        self.tree: dict[int, list[tuple[int, str, float]]] = defaultdict(list)
        self.ambiguous: list[tuple[int, list[int], str]] = []

    def merge(self, a: int, b: int, reason: str, score: float) -> bool:
        if not self.uf.union(a, b):
            return False
        self.tree[a].append((b, reason, score))
        self.tree[b].append((a, reason, score))
        return True

    def distinct(self, candidates: list[int]) -> list[int]:
        """One representative (the first) per component among ``candidates``."""
        seen: dict[int, int] = {}
        for c in candidates:
            seen.setdefault(self.uf.find(c), c)
        return list(seen.values())
