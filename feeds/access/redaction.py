"""Shielded children's names in free text: how they are found, withheld and put back.

Pure text work for `feeds/access/identity.py` (the one home of the shielding rule), which
decides *whose* names a viewer may not read and builds the `Redactor`. A name is withheld
in every text the viewer reads, whichever child's feed it was written in: a sibling's post
naming a shielded child must not name it either.

Cheap in the common case: a text is folded and split into words once, and each word looked
up in a table of the hidden names' words; only a text holding one of them is searched with
the names' patterns (so a page pays no regular-expression search per post for names it does
not hold, however many children are shielded).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from feeds.errors import Conflict

WITHHELD = "[name withheld]"  # what stands for a shielded child's name in post text
NAME_PART_MIN = 3  # a name's parts this long are redacted on their own ("Amelia", not "Al")
STEMMED = 2  # letters an engine's stemmer may take off a word ("-s", "-es")
_LETTERS = re.compile(r"[^\W\d_]+")
_WORD = re.compile(r"\w+")
KEEP_WITHHELD = (
    "This post names someone whose name is withheld from you, shown as {shown}. Keep each "
    "{withheld} where it stands, in the same order and as a separate word, and change only "
    "the text around it: what you were not shown cannot be rewritten."
)


def name_tokens(display_name: str, reference: str) -> list[str]:
    """What names a child in free text: its name whole, its reference, and each part of
    3+ letters (words as written, "Mary-Jane", and their letters, "Mary", "Jane")."""
    words = display_name.split()
    parts = [p for p in [*words, *_LETTERS.findall(display_name)] if len(p) >= NAME_PART_MIN]
    return [t for t in dict.fromkeys([display_name.strip(), reference.strip(), *parts]) if t]


def _fold(text: str) -> str:
    """Text for the look-up table: folded at least as far as the patterns' IGNORECASE
    matching folds it (dotted and dotless i too), so the table never misses a name the
    pattern would find. Folding further only costs a pattern search."""
    return text.casefold().replace("\u0307", "").replace("\u0131", "i")


@functools.lru_cache(maxsize=256)
def _pattern(tokens: tuple[str, ...]) -> re.Pattern[str]:
    """Any of these tokens as a whole word, any case, the longest first."""
    alternatives = "|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


@dataclass(frozen=True)
class Names:
    """One shielded child's names: its tokens, and their words (for search terms)."""

    tokens: tuple[str, ...]
    words: frozenset[str]  # the tokens' words, lower case, 3+ letters or digits

    @classmethod
    def of(cls, display_name: str, reference: str) -> Names:
        tokens = tuple(name_tokens(display_name, reference))
        words = {w.lower() for t in tokens for w in _WORD.findall(t)}
        return cls(tokens, frozenset(w for w in words if len(w) >= NAME_PART_MIN or w.isdigit()))

    @property
    def pattern(self) -> re.Pattern[str]:
        return _pattern(self.tokens)

    def named_by(self, asked: list[str], prefix: str | None) -> bool:
        """Whether these search terms (lower case) name the child: a word of its name or
        reference, that word with an ending the engines stem away ("neils"), or (`prefix`,
        as typed) the start of one."""
        if any(_stems_to(term, word) for term in asked for word in self.words):
            return True
        return prefix is not None and any(word.startswith(prefix) for word in self.words)


def _stems_to(term: str, word: str) -> bool:
    return term.startswith(word) and len(term) - len(word) <= STEMMED


@dataclass(frozen=True)
class Redactor:
    """For one viewer: the shielded children whose names it may not read (by id), and how
    to take those names out of any text it reads."""

    hidden: Mapping[int, Names] = field(default_factory=dict)
    # Each token's longest word, folded -> the children it may name. A token the pattern
    # finds has all its words in the text, so one of them (the rarest, as a rule: the
    # longest) is enough to look for; "SH" of "SH-00042" would make every child a candidate.
    _index: Mapping[str, frozenset[int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, set[int]] = {}
        for child_id, names in self.hidden.items():
            for token in names.tokens:
                words = _WORD.findall(_fold(token))
                if words:
                    index.setdefault(max(words, key=len), set()).add(child_id)
        object.__setattr__(self, "_index", {w: frozenset(ids) for w, ids in index.items()})

    def named_in(self, text: str) -> set[int]:
        """The hidden children whose names this text holds."""
        if not self.hidden or not text:
            return set()
        found = self._index.keys() & set(_WORD.findall(_fold(text)))  # usually empty
        maybe = set[int]().union(*(self._index[word] for word in found))
        return {i for i in maybe if self.hidden[i].pattern.search(text)}

    def __call__(self, text: str) -> str:
        """The text as the viewer may read it: every hidden name in it withheld."""
        named = self.named_in(text)
        if not named:
            return text
        tokens = tuple(t for i in sorted(named) for t in self.hidden[i].tokens)
        return _pattern(tokens).sub(WITHHELD, text)

    def within(self, value: Any) -> Any:
        """A JSON-like value (an audit record's detail) as the viewer may read it: every
        string in it, at any depth, read through this redactor (the keys are ours)."""
        if not self.hidden:
            return value
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {key: self.within(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.within(item) for item in value]
        return value

    def named_by(self, terms: Iterable[str], prefix: str | None = None) -> frozenset[int]:
        """The hidden children these search terms (lower case) name."""
        asked = [t for t in terms if t] + ([prefix] if prefix else [])
        return frozenset(i for i, names in self.hidden.items() if names.named_by(asked, prefix))

    def hides_hit(self, child_id: int, text: str, named: Collection[int]) -> bool:
        """Whether a search hit (a post on `child_id` with this text) must be dropped, the
        search having named these hidden children (`named_by`): the post is on one of them
        or names one. Finding it by the name would confirm whose it is, or whom it names."""
        if not named:
            return False
        return child_id in named or bool(self.named_in(text).intersection(named))

    def except_for(self, child_ids: Collection[int]) -> Redactor:
        """This redactor for a viewer who identifies these children."""
        if not any(child_id in self.hidden for child_id in child_ids):
            return self
        return Redactor({k: v for k, v in self.hidden.items() if k not in child_ids})

    def only_named_in(self, texts: Iterable[str]) -> Redactor:
        """This redactor limited to the children these texts name (often none: then a
        batch of frames goes out as written, the same bytes to every socket)."""
        named: set[int] = set()
        for text in texts:
            named |= self.named_in(text)
        if named == set(self.hidden):
            return self
        return Redactor({k: v for k, v in self.hidden.items() if k in named})

    def restore(self, edited: str, stored: str) -> str:
        """An edit of `stored` made from the text as this viewer read it: each WITHHELD in
        `edited` is put back to what it stood for, in order, so an edit never overwrites
        what the editor was not shown. Conflict when the withheld parts were removed,
        added or moved into a word (the edit must read back exactly as written)."""
        spans = self._spans(stored)
        if all(span == WITHHELD for span in spans):
            return edited  # nothing was withheld from this editor: the text is theirs
        parts = edited.split(WITHHELD)
        if len(parts) != len(spans) + 1:
            raise Conflict(self._keep_message(len(spans)), field="body")
        restored = parts[0] + "".join(s + p for s, p in zip(spans, parts[1:], strict=True))
        if self(restored) != self(edited):  # a name glued to a word would read differently
            raise Conflict(self._keep_message(len(spans)), field="body")
        return restored

    def _spans(self, stored: str) -> list[str]:
        """What each WITHHELD in the text as read stands for, in order (a WITHHELD written
        literally in the post stands for itself)."""
        named = self.named_in(stored)
        if not named:
            return [WITHHELD] * stored.count(WITHHELD)
        tokens = tuple(t for i in sorted(named) for t in self.hidden[i].tokens)
        spans: list[str] = []
        last = 0
        for match in _pattern(tokens).finditer(stored):
            spans += [WITHHELD] * stored.count(WITHHELD, last, match.start())
            spans.append(match.group())
            last = match.end()
        return spans + [WITHHELD] * stored.count(WITHHELD, last)

    @staticmethod
    def _keep_message(count: int) -> str:
        shown = f'"{WITHHELD}"' + (f" ({count} times)" if count > 1 else "")
        return KEEP_WITHHELD.format(shown=shown, withheld=f'"{WITHHELD}"')


AS_WRITTEN = Redactor()  # nothing hidden: for text not yet shown to anyone

Shielded = tuple[tuple[int, str, str], ...]  # (id, display name, reference), by id


@functools.lru_cache(maxsize=64)
def hiding(shielded: Shielded) -> Redactor:
    """A redactor hiding these children. Cached: most viewers hide the same set (every
    shielded child), and building one costs ~20 µs a child; the key is the names as read
    now, so a renamed, shielded or lifted child makes a new one."""
    return Redactor({i: Names.of(name, reference) for i, name, reference in shielded})
