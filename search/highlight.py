"""Snippets built from the database's copy of a post, never from an engine's copy.

Matching here is deliberately lenient (a word, its simple plural or -ing/-ed form, or a
prefix): it only decides what to mark in text the caller is already allowed to read.
"""

from __future__ import annotations

from search.base import MARK_END, MARK_START, WORD, ParsedQuery, Segment, Snippet

SUFFIXES = ("ing", "ed", "es", "s")
ELLIPSIS = "…"


def _stem(word: str) -> str:
    for suffix in SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _matches(token: str, parsed: ParsedQuery, terms: set[str]) -> bool:
    lowered = token.lower()
    if parsed.prefix and lowered.startswith(parsed.prefix):
        return True
    return lowered in terms or _stem(lowered) in terms


def _window(body: str, first: int, width: int) -> tuple[int, int]:
    """A [start, end) window of about `width` characters starting a little before `first`,
    cut at spaces but never inside a bracketed phrase such as "[name withheld]"."""
    start = max(0, first - width // 4)
    if start:
        space = body.find(" ", start)
        start = space + 1 if 0 <= space < first else start
        opened = body.rfind("[", 0, start)
        if opened > body.rfind("]", 0, start):
            start = opened
    end = min(len(body), start + width)
    if end < len(body):
        space = body.rfind(" ", start, end)
        end = space if space > first else end
        opened = body.rfind("[", start, end)
        if opened > max(first, body.rfind("]", start, end)):
            end = opened
    return start, end


def highlight(body: str, parsed: ParsedQuery, width: int = 160) -> Snippet:
    """About `width` characters of `body` around the first match, matches marked."""
    terms = set(parsed.terms()) | {_stem(t) for t in parsed.terms()}
    spans = [m.span() for m in WORD.finditer(body) if _matches(m.group(), parsed, terms)]
    start, end = _window(body, spans[0][0] if spans else 0, width)
    segments: list[Segment] = [Segment(ELLIPSIS)] if start else []
    at = start
    for left, right in spans:
        if left < start or right > end:
            continue
        if left > at:
            segments.append(Segment(body[at:left]))
        segments.append(Segment(body[left:right], hit=True))
        at = right
    if at < end:
        segments.append(Segment(body[at:end]))
    if end < len(body):
        segments.append(Segment(ELLIPSIS))
    return Snippet(segments)


def split_marked(snippet: str) -> Snippet:
    """An engine snippet (MARK_START/MARK_END) as segments, for tests and diagnostics."""
    segments: list[Segment] = []
    for i, part in enumerate(snippet.split(MARK_START)):
        if i == 0:
            segments.append(Segment(part))
            continue
        marked, _, rest = part.partition(MARK_END)
        segments.append(Segment(marked, hit=True))
        if rest:
            segments.append(Segment(rest))
    return Snippet([s for s in segments if s.text])
