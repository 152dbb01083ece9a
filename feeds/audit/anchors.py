"""Archive anchors: where the audit chain starts once older months left the database.

`jigsaw audit archive` (feeds/audit/archive.py) takes whole months out of `audit_record`
and stores one anchor: "records `first_seq`..`seq` were archived (these months, these
files with these SHA-256s); the last has hash `hash`". It is signed like a checkpoint
(Ed25519, the deployment's audit signing key; feeds/audit/checkpoints.py) over its own
domain, so a signature over an anchor means nothing else. The verifier starts the chain
walk from the newest anchor's seq and hash instead of the genesis hash.

Someone with database access but not the key cannot move the start: an edited or forged
anchor fails its signature, a deleted one leaves the chain starting after a gap (records
missing before it), and anchors must follow one another without a gap.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from feeds.audit.anchor_model import AuditAnchor
from feeds.audit.chain import GENESIS, Head
from feeds.audit.checkpoints import signature_holds, signature_of
from feeds.audit.keys import key_id

GENESIS_HEAD = Head(0, GENESIS)  # where the chain starts when nothing was archived
VERSION = 1
DOMAIN = b"jigsaw-audit-anchor\n"  # never the checkpoints' domain


@dataclass(frozen=True)
class Anchor:
    seq: int  # the last archived record
    hash: str  # its hash: the chain goes on from it
    first_seq: int  # the first record of this archive (the previous anchor's seq + 1)
    previous_hash: str  # the hash the first archived record was chained to
    months: list[str]  # "2025-01", ...
    files: dict[str, str]  # export file name -> SHA-256
    rows: int
    at: str  # UTC, ISO 8601
    key: str  # id of the signing key
    v: int = VERSION

    def payload(self) -> bytes:
        return DOMAIN + json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()

    @property
    def head(self) -> Head:
        return Head(self.seq, self.hash)


@dataclass(frozen=True)
class SignedAnchor:
    anchor: Anchor
    signature: str

    def line(self) -> str:
        return json.dumps({**asdict(self.anchor), "sig": self.signature}, sort_keys=True)

    def verifies(self, public_key: Ed25519PublicKey) -> bool:
        return self.anchor.key == key_id(public_key) and signature_holds(
            self.signature, self.anchor.payload(), public_key
        )


def sign(anchor: Anchor, key: Ed25519PrivateKey) -> SignedAnchor:
    return SignedAnchor(anchor, signature_of(anchor.payload(), key))


class Unreadable(ValueError):
    """A stored line that is not an anchor (edited or truncated)."""


def parse(line: str) -> SignedAnchor:
    try:
        data: dict[str, Any] = json.loads(line)
        signature = str(data.pop("sig"))
        anchor = Anchor(**data)
    except (ValueError, KeyError, TypeError) as error:
        raise Unreadable(str(error)) from None
    if not (isinstance(anchor.seq, int) and isinstance(anchor.first_seq, int)):
        raise Unreadable("seq and first_seq must be whole numbers")
    return SignedAnchor(anchor, signature)


async def store(signed: SignedAnchor) -> None:
    """In the caller's transaction (the one that detaches the months)."""
    await AuditAnchor.create(seq=signed.anchor.seq, line=signed.line())


@dataclass
class Found:
    """The stored anchors, read and (with a key) checked."""

    anchors: list[SignedAnchor] = field(default_factory=list)  # usable, oldest first
    problems: list[str] = field(default_factory=list)  # tampering

    @property
    def start(self) -> Head:
        """Where the chain walk starts: the newest anchor, or the genesis."""
        return self.anchors[-1].anchor.head if self.anchors else GENESIS_HEAD


async def read(key: Ed25519PublicKey | None) -> Found:
    """Every stored anchor; with a key, those that do not verify are problems and not
    used. Consecutive anchors must join up (no archive in between went missing)."""
    found = Found()
    for row in await AuditAnchor.all().order_by("seq", "id"):
        try:
            signed = parse(row.line)
        except Unreadable:
            found.problems.append(f"archive anchor {row.id} is not an anchor (edited?)")
            continue
        if key is not None and not signed.verifies(key):
            found.problems.append(
                f"archive anchor {row.id} (seq {signed.anchor.seq}) has a bad signature:"
                " edited or forged"
            )
            continue
        found.anchors.append(signed)
    found.anchors.sort(key=lambda s: s.anchor.seq)
    found.problems += _gaps(found.anchors)
    return found


def _gaps(anchors: list[SignedAnchor]) -> list[str]:
    problems, previous = [], GENESIS_HEAD
    for signed in anchors:
        anchor = signed.anchor
        if (anchor.first_seq, anchor.previous_hash) != (previous.seq + 1, previous.hash):
            problems.append(
                f"the archive anchor at seq {anchor.seq} does not follow the one before it"
                f" (it starts at seq {anchor.first_seq}): an anchor was removed or replaced"
            )
        previous = anchor.head
    return problems
