"""Meilisearch backend through the `meilisearch` package (a blocking client, so every
call runs in a worker thread).

Writes use the admin key and wait for the engine's task to succeed, so the outbox marks
a row done only once the change is really in the index. Searches use the search-only
key and always carry a filter on the caller's allowed child ids.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any, TypeVar

import meilisearch

from search.base import MARK_END, MARK_START, PostDoc, SearchHit, SearchQuery
from search.breaker import CircuitBreaker

T = TypeVar("T")
FILTERABLE = ["post_id", "child_id", "author_id", "agency_id", "kind", "created_ts"]
SETTINGS: dict[str, Any] = {
    "searchableAttributes": ["body"],
    "filterableAttributes": FILTERABLE,
    "sortableAttributes": ["post_id", "created_ts"],
    "displayedAttributes": ["post_id", "child_id", "body"],
}
TASK_TIMEOUT_MS = 30_000
# Searches are interactive: a hanging engine gets a short wait, then the breaker opens.
SEARCH_TIMEOUT_S = 2
WRITE_TIMEOUT_S = 10  # the outbox drainer writes in the background and retries


class MeiliTaskFailed(RuntimeError):
    """The engine accepted a task but could not apply it."""


def _quoted(query: SearchQuery) -> str:
    """The parsed query back as Meilisearch text: words, "phrases", the prefix last; ""
    for a filter-only search (Meilisearch's placeholder search: every document that
    passes the filter, in the `sort` order). Meilisearch matches the query's last word as
    a prefix: when that is a whole word (too short to be our prefix), it goes as a
    one-word "phrase", which Meilisearch matches exactly."""
    parsed = query.parsed
    words = list(parsed.words)
    if words and not parsed.prefix and not parsed.phrases:
        words[-1] = f'"{words[-1]}"'
    parts = words + ['"' + " ".join(p) + '"' for p in parsed.phrases]
    return " ".join(parts + ([parsed.prefix] if parsed.prefix else []))


def filter_expression(query: SearchQuery) -> list[str]:
    """Filters ANDed together; the allowed child ids always come first."""
    ids = ", ".join(str(i) for i in query.children())
    clauses = [f"child_id IN [{ids}]"]
    if query.kind is not None:
        clauses.append(f'kind = "{query.kind}"')  # checked against PostKind by the service
    for name, value in (("author_id", query.author), ("agency_id", query.agency)):
        if value is not None:
            clauses.append(f"{name} = {int(value)}")
    if query.since is not None:
        clauses.append(f"created_ts >= {query.since.timestamp()}")
    if query.until is not None:
        clauses.append(f"created_ts < {query.until.timestamp()}")
    if query.order == "newest" and query.cursor is not None:
        clauses.append(f"post_id < {int(query.cursor)}")
    return clauses


class MeiliIndex:
    name = "meili"

    def __init__(
        self, url: str, key: str | None, search_key: str | None, uid: str = "jigsaw_posts"
    ) -> None:
        self.uid = uid
        self._admin = meilisearch.Client(url, key, timeout=WRITE_TIMEOUT_S)
        self._searcher = meilisearch.Client(url, search_key or key, timeout=SEARCH_TIMEOUT_S)
        self.breaker = CircuitBreaker()

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def _wait(self, task_uid: int) -> None:
        task = await self._call(self._admin.wait_for_task, task_uid, TASK_TIMEOUT_MS)
        if task.status != "succeeded":
            raise MeiliTaskFailed(f"task {task_uid} {task.status}: {task.error}")

    async def ensure_ready(self) -> None:
        info = await self._call(self._admin.create_index, self.uid, {"primaryKey": "post_id"})
        task = await self._call(self._admin.wait_for_task, info.task_uid, TASK_TIMEOUT_MS)
        if task.status != "succeeded" and (task.error or {}).get("code") != "index_already_exists":
            raise MeiliTaskFailed(f"create index: {task.error}")
        index = self._admin.index(self.uid)
        await self._wait((await self._call(index.update_settings, SETTINGS)).task_uid)

    async def index_posts(self, docs: Sequence[PostDoc]) -> None:
        if docs:
            index = self._admin.index(self.uid)
            payload = [asdict(doc) for doc in docs]
            await self._wait((await self._call(index.add_documents, payload, "post_id")).task_uid)

    async def remove_posts(self, post_ids: Sequence[int]) -> None:
        if post_ids:
            index = self._admin.index(self.uid)
            ids = ", ".join(str(int(i)) for i in post_ids)
            info = await self._call(index.delete_documents, filter=f"post_id IN [{ids}]")
            await self._wait(info.task_uid)

    async def indexed_ids(self) -> set[int]:
        index, ids, offset = self._admin.index(self.uid), set[int](), 0
        while True:
            page = await self._call(
                index.get_documents, {"fields": ["post_id"], "offset": offset, "limit": 1000}
            )
            ids.update(int(doc.post_id) for doc in page.results)
            offset += len(page.results)
            if not page.results or offset >= page.total:
                return ids

    async def clear(self) -> None:
        index = self._admin.index(self.uid)
        await self._wait((await self._call(index.delete_all_documents)).task_uid)

    async def search(self, query: SearchQuery) -> list[SearchHit]:
        if not query.children():
            return []
        options: dict[str, Any] = {
            "filter": filter_expression(query),
            "limit": query.limit,
            "attributesToCrop": ["body"],
            "cropLength": 24,
            "attributesToHighlight": ["body"],
            "highlightPreTag": MARK_START,
            "highlightPostTag": MARK_END,
            "showRankingScore": True,
        }
        if query.order == "newest" or not query.has_text:  # no words: nothing to rank by
            options["sort"] = ["post_id:desc"]
        if query.order == "relevance":  # its cursor is an offset (newest filters by id)
            options["offset"] = query.cursor or 0
        index = self._searcher.index(self.uid)
        result = await self.breaker.call(lambda: self._call(index.search, _quoted(query), options))
        return [_hit(raw) for raw in result["hits"]]


def _hit(raw: dict[str, Any]) -> SearchHit:
    formatted = raw.get("_formatted", {})
    return SearchHit(
        int(raw["post_id"]),
        int(raw["child_id"]),
        float(raw.get("_rankingScore", 0.0)),
        str(formatted.get("body", "")),
    )
