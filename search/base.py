"""The search interface: queries, hits, indexed documents and the SearchIndex protocol.

Backends (sqlite, postgres, meili) implement SearchIndex. The caller's allowed children
always travel with the query; a backend never searches outside them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Literal, Protocol

from feeds.models import Post

Order = Literal["newest", "relevance"]
ORDERS: tuple[Order, ...] = ("newest", "relevance")
# Engines mark highlighted words with these (never shown: the service re-highlights).
MARK_START, MARK_END = "\x02", "\x03"
PREFIX_MIN = 3  # a last word this long also matches as a prefix; shorter ones whole
TEXT_MIN = 2  # "GP", "HV", "ok": two-character words are searchable
MAX_TERMS = 16
WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class ParsedQuery:
    """Free text split into whole words, quoted phrases and a last-word prefix."""

    words: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    prefix: str | None = None  # the last unquoted word (3+ chars), matched as a prefix

    @property
    def is_empty(self) -> bool:
        return not (self.words or self.phrases or self.prefix)

    def terms(self) -> list[str]:
        """Every word the query looks for (for highlighting)."""
        out = list(self.words)
        for phrase in self.phrases:
            out.extend(phrase)
        return out + ([self.prefix] if self.prefix else [])


def parse_query(text: str) -> ParsedQuery:
    """Split on double quotes: odd parts are phrases; the last bare word becomes a prefix."""
    parts = text.lower().split('"')
    words: list[str] = []
    phrases: list[tuple[str, ...]] = []
    for position, part in enumerate(parts):
        tokens = WORD.findall(part)
        if position % 2 and len(tokens) > 1:
            phrases.append(tuple(tokens[:MAX_TERMS]))
        else:
            words.extend(tokens)
    prefix = None
    ends_bare = len(parts) % 2 == 1 and bool(WORD.findall(parts[-1]))
    if ends_bare and words and len(words[-1]) >= PREFIX_MIN:
        prefix = words.pop()
    unique = tuple(dict.fromkeys(words))[:MAX_TERMS]
    return ParsedQuery(unique, tuple(phrases[:MAX_TERMS]), prefix)


@dataclass(frozen=True, kw_only=True)
class SearchParams:
    """What the user asked for: text, filters, order and paging."""

    text: str
    child: int | None = None
    kind: str | None = None
    author: int | None = None
    agency: int | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    order: Order = "newest"
    limit: int = 20
    cursor: int | None = None  # newest: a post id to go below; relevance: an offset


@dataclass(frozen=True, kw_only=True)
class SearchQuery(SearchParams):
    """SearchParams plus the children the access policy allows right now (required)."""

    child_ids: frozenset[int]

    @cached_property
    def parsed(self) -> ParsedQuery:
        return parse_query(self.text)

    @property
    def has_text(self) -> bool:
        """False for a filter-only search ("all concerns since yesterday"): every post
        within the children and filters, newest first."""
        return not self.parsed.is_empty

    def children(self) -> list[int]:
        """The children to search: allowed ones, narrowed by the child filter; sorted."""
        if self.child is not None:
            return [self.child] if self.child in self.child_ids else []
        return sorted(self.child_ids)


@dataclass(frozen=True)
class SearchHit:
    post_id: int
    child_id: int
    score: float  # higher is better; only comparable within one search
    snippet: str = ""  # the engine's snippet, words wrapped in MARK_START/MARK_END


@dataclass(frozen=True)
class PostDoc:
    """What an index stores for a post: ids, kind, time and text; never who may see it."""

    post_id: int
    child_id: int
    author_id: int
    agency_id: int
    kind: str
    created_ts: float
    body: str

    @classmethod
    def of(cls, post: Post) -> PostDoc:
        """Needs post.author loaded."""
        return cls(
            post.id,
            post.child_id,
            post.author_id,
            post.author.agency_id,
            str(post.kind),
            post.created_at.timestamp(),
            post.body,
        )


class SearchIndex(Protocol):
    name: str

    async def ensure_ready(self) -> None:
        """Create or check the index and apply its settings (at start-up)."""

    async def index_posts(self, docs: Sequence[PostDoc]) -> None:
        """Add or replace these posts; returns once the engine has applied them."""

    async def remove_posts(self, post_ids: Sequence[int]) -> None:
        """Remove these posts (unknown ids are ignored)."""

    async def search(self, query: SearchQuery) -> list[SearchHit]:
        """Up to query.limit hits within query.children(), in query.order."""

    async def indexed_ids(self) -> set[int]:
        """Every post id the engine holds (for reconciliation)."""
        ...

    async def clear(self) -> None:
        """Remove every document."""


@dataclass
class Segment:
    text: str
    hit: bool = False


@dataclass
class Snippet:
    """A short excerpt as plain-text segments, some marked as matches."""

    segments: list[Segment] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.segments)

    def highlights(self) -> list[tuple[int, int]]:
        """[start, end) offsets of the matches within `text`."""
        spans, at = [], 0
        for segment in self.segments:
            if segment.hit:
                spans.append((at, at + len(segment.text)))
            at += len(segment.text)
        return spans
