"""Who may see who a child is: the one home of the shielding rule (issue 17 part 3).

A shielded child (a family in a refuge, an adoption in progress) keeps its name and
reference for the people holding a direct personal grant (`rules.IDENTIFYING`, the lead
through their own grant). Everyone else with access (team grants, managers, break-glass,
administrators) sees "Shielded child #<id>", with no reference, date of birth, school or
area; those without access see nothing at all, as before (the policy's NotFound).

Every place that shows a child to someone goes through `as_seen_by` (many children, two
queries at most), `seen_child` (one), or `as_seen_with` (standings already in hand); lists
sort by the name as seen (`by_shown_name`), so a label's place says nothing of the name.
Post text is shown through a `Redactor` (`redactor`): a direct grant may write the child's
name in a post, and whoever sees the label reads "[name withheld]" there instead (the
stored text is untouched).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn

from feeds.access.policy import active_grant_q
from feeds.access.rules import Standing, sees_identity
from feeds.clock import utcnow
from feeds.models import Child, Grant, Professional

SHIELDED = "Shielded child"
WITHHELD = "[name withheld]"  # what stands for a shielded child's name in post text
NAME_PART_MIN = 3  # a name's parts this long are redacted on their own ("Amelia", not "Al")
_LETTERS = re.compile(r"[^\W\d_]+")
_WORD = re.compile(r"\w+")
STEMMED = 2  # letters an engine's stemmer may take off a word ("-s", "-es")
MANY = 500  # past this many children, read every shielded one rather than list the ids


def label(child_id: int) -> str:
    """What stands for a shielded child's name: stable, and naming nothing but its id
    (already in every link to it)."""
    return f"{SHIELDED} #{child_id}"


def is_label(child: Child) -> bool:
    """True for a child shown by its label (a disguised copy)."""
    return child.reference == "" and child.display_name == label(child.id)


def is_shielded(child: Child) -> bool:
    return child.shielded_at is not None


async def _refuse_save(*_: Any, **__: Any) -> NoReturn:
    raise RuntimeError("A disguised child is for showing, never for saving.")


def disguised(child: Child) -> Child:
    """A copy of the child showing no identifier; the record itself is untouched (and the
    copy refuses to be saved, so a label can never overwrite a name)."""
    shown = copy.copy(child)
    shown.display_name, shown.reference = label(child.id), ""
    shown.date_of_birth, shown.school, shown.area = None, "", ""
    shown.shield_reason = ""
    object.__setattr__(shown, "save", _refuse_save)
    return shown


def as_seen_with(child: Child, standings: frozenset[Standing] | set[Standing]) -> Child:
    """The child as someone with these standings around it sees it."""
    return child if sees_identity(standings, is_shielded(child)) else disguised(child)


async def _direct_grant_ids(
    viewer: Professional, child_ids: Iterable[int], now: datetime | None = None
) -> set[int]:
    """Of these children, those the viewer holds a live direct grant on (the ORM form of
    the policy's DIRECT_GRANT arm; both use the one active-grant rule)."""
    ids = sorted(set(child_ids))
    if not ids or not viewer.is_active:
        return set()
    live = Grant.filter(active_grant_q(now or utcnow()), professional_id=viewer.id)
    found = await live.filter(child_id__in=ids).values("child_id")
    return {int(row["child_id"]) for row in found}


async def identified_ids(viewer: Professional, child_ids: Iterable[int]) -> set[int]:
    """Of these children, those whose name and reference the viewer may see (one query,
    two when some are shielded)."""
    ids = set(child_ids)
    found = await Child.filter(id__in=sorted(ids), shielded_at__isnull=False).values("id")
    return ids - await unidentified(viewer, {int(row["id"]) for row in found})


async def unidentified(viewer: Professional, shielded_ids: Iterable[int]) -> set[int]:
    """Of these shielded children, those whose name and reference the viewer may not see
    (no query when there are none)."""
    shielded = set(shielded_ids)
    return shielded - await _direct_grant_ids(viewer, shielded) if shielded else set()


async def as_seen_by(viewer: Professional, children: Sequence[Child]) -> list[Child]:
    """These children as the viewer sees them, in the same order (no query when none is
    shielded)."""
    shielded = [c.id for c in children if is_shielded(c)]
    direct = await _direct_grant_ids(viewer, shielded) if shielded else set()
    return [
        disguised(c) if is_shielded(c) and c.id not in direct else c
        for c in children  # keep order
    ]


async def seen_child(viewer: Professional, child: Child) -> Child:
    """One child as the viewer sees it."""
    return (await as_seen_by(viewer, [child]))[0]


async def shown_names(viewer: Professional, children: Sequence[Child]) -> dict[int, str]:
    """Each child's name as the viewer sees it, by id (for lists of posts and notes)."""
    return {c.id: c.display_name for c in await as_seen_by(viewer, children)}


async def shown_children(viewer: Professional, children: Sequence[Child]) -> list[Child]:
    """`as_seen_by`, sorted by the name as seen (`by_shown_name`)."""
    return sorted(await as_seen_by(viewer, children), key=by_shown_name)


def by_shown_name(child: Child) -> tuple[bool, str, int]:
    """The sort key of a child in a list by name, from the child *as seen*: named
    children by name, then labels by id, so a label's place says nothing of the name."""
    return name_key(child.id, child.display_name)


def name_key(child_id: int, shown_name: str) -> tuple[bool, str, int]:
    """`by_shown_name` for a name already as seen (board rows, "My children")."""
    labelled = shown_name == label(child_id)
    return (labelled, "" if labelled else shown_name.lower(), child_id)


# --- names in post text -------------------------------------------------------------------


def name_tokens(display_name: str, reference: str) -> list[str]:
    """What names a child in free text: its name whole, its reference, and each part of
    3+ letters (words as written, "Mary-Jane", and their letters, "Mary", "Jane")."""
    words = display_name.split()
    parts = [p for p in [*words, *_LETTERS.findall(display_name)] if len(p) >= NAME_PART_MIN]
    return [t for t in dict.fromkeys([display_name.strip(), reference.strip(), *parts]) if t]


@dataclass(frozen=True)
class _Names:
    pattern: re.Pattern[str]  # any token, as a whole word, any case
    words: frozenset[str]  # the tokens' words, lower case (for matching search terms)

    @classmethod
    def of(cls, display_name: str, reference: str) -> _Names:
        tokens = sorted(name_tokens(display_name, reference), key=len, reverse=True)
        alternatives = "|".join(re.escape(token) for token in tokens)
        pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
        words = {w.lower() for t in tokens for w in _WORD.findall(t)}
        return cls(pattern, frozenset(w for w in words if len(w) >= NAME_PART_MIN or w.isdigit()))


@dataclass(frozen=True)
class Redactor:
    """For one viewer: the shielded children whose names it may not read, and how to
    take those names out of post text."""

    hidden: Mapping[int, _Names] = field(default_factory=dict)

    def __call__(self, child_id: int, text: str) -> str:
        """The text of a post on this child, as the viewer may read it."""
        names = self.hidden.get(child_id)
        return text if names is None or not text else names.pattern.sub(WITHHELD, text)

    def named_by(self, child_id: int, terms: Iterable[str], prefix: str | None = None) -> bool:
        """Whether these search terms (lower case) name the hidden child: a word of its name
        or reference, that word with an ending the engines stem away ("neils"), or
        (`prefix`, as typed) the start of one."""
        names = self.hidden.get(child_id)
        if names is None:
            return False
        asked = [t for t in terms if t] + ([prefix] if prefix else [])
        if any(_stems_to(term, word) for term in asked for word in names.words):
            return True
        return prefix is not None and any(word.startswith(prefix) for word in names.words)

    def except_for(self, child_ids: Collection[int]) -> Redactor:
        """This redactor for a viewer who identifies these children."""
        if not any(child_id in self.hidden for child_id in child_ids):
            return self
        return Redactor({k: v for k, v in self.hidden.items() if k not in child_ids})


def _stems_to(term: str, word: str) -> bool:
    return term.startswith(word) and len(term) - len(word) <= STEMMED


AS_WRITTEN = Redactor()  # nothing hidden: for text not yet shown to anyone


async def shielded_names(child_ids: Iterable[int]) -> Redactor:
    """A redactor hiding every shielded child among these, whoever looks (one query);
    `except_for` the viewer's direct grants gives that viewer's."""
    ids = set(child_ids)
    if not ids:
        return AS_WRITTEN
    shielded = Child.filter(shielded_at__isnull=False)
    if len(ids) <= MANY:
        shielded = shielded.filter(id__in=sorted(ids))
    rows = await shielded.values("id", "display_name", "reference")  # few: shields are rare
    return Redactor(
        {
            int(r["id"]): _Names.of(r["display_name"], r["reference"])
            for r in rows
            if int(r["id"]) in ids
        }
    )


async def redactor(viewer: Professional, child_ids: Iterable[int]) -> Redactor:
    """How the viewer reads posts on these children (one query, two when one is shielded)."""
    hiding = await shielded_names(child_ids)
    if not hiding.hidden:
        return hiding
    return hiding.except_for(await _direct_grant_ids(viewer, hiding.hidden))


async def direct_grant_ids(viewer: Professional) -> set[int]:
    """Every child the viewer holds a live direct grant on (few: personal grants)."""
    if not viewer.is_active:
        return set()
    live = Grant.filter(active_grant_q(utcnow()), professional_id=viewer.id)
    return {int(row["child_id"]) for row in await live.values("child_id")}
