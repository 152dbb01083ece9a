"""Signed checkpoints of the audit chain, kept outside the database.

A checkpoint says "at time T the chain held `count` sealed records, the newest at seq
`head_seq` with hash `head_hash`", signed with Ed25519. The sealer appends one as a JSON
line to the checkpoint file (and echoes it to the log) every few seconds while the chain
grows. Someone who can rewrite the database but not the file and the key cannot make the
chain match an earlier checkpoint again: deleting the newest rows leaves fewer than
`count`, and re-sealing the chain changes `head_hash` (feeds/audit/verify.py checks both).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from feeds.audit import chain
from feeds.audit.keys import key_id
from feeds.clock import utcnow

VERSION = 1
DOMAIN = b"jigsaw-audit-checkpoint\n"  # signatures over checkpoints mean nothing else


@dataclass(frozen=True)
class Checkpoint:
    count: int  # sealed records; seq runs 1..count without gaps, so count == head_seq
    head_seq: int
    head_hash: str
    at: str  # UTC, ISO 8601
    key: str  # id of the signing key (feeds/audit/keys.py)
    v: int = VERSION

    def payload(self) -> bytes:
        """The exact bytes signed: canonical JSON of every field."""
        return DOMAIN + json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Signed:
    checkpoint: Checkpoint
    signature: str  # base64

    def line(self) -> str:
        return json.dumps({**asdict(self.checkpoint), "sig": self.signature}, sort_keys=True)

    def verifies(self, public_key: Ed25519PublicKey) -> bool:
        return signature_holds(self.signature, self.checkpoint.payload(), public_key)


def signature_of(payload: bytes, key: Ed25519PrivateKey) -> str:
    """The Ed25519 signature over `payload`, base64 (checkpoints and archive anchors)."""
    return base64.b64encode(key.sign(payload)).decode()


def signature_holds(signature: str, payload: bytes, public_key: Ed25519PublicKey) -> bool:
    try:
        public_key.verify(base64.b64decode(signature), payload)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def sign(checkpoint: Checkpoint, key: Ed25519PrivateKey) -> Signed:
    return Signed(checkpoint, signature_of(checkpoint.payload(), key))


async def current(key: Ed25519PrivateKey) -> Signed:
    """A signed checkpoint of the chain as it is now."""
    head = await chain.head()
    checkpoint = Checkpoint(
        count=head.seq,
        head_seq=head.seq,
        head_hash=head.hash,
        at=utcnow().isoformat(timespec="seconds"),
        key=key_id(key.public_key()),
    )
    return sign(checkpoint, key)


def append(path: Path, signed: Signed) -> None:
    """Append one line and flush it to disk (O_APPEND: whole lines, even from several
    processes on one host)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(descriptor, (signed.line() + "\n").encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class Unreadable(ValueError):
    """A checkpoint line that is not a checkpoint (edited, truncated, or foreign)."""


def parse(line: str) -> Signed:
    try:
        data: dict[str, Any] = json.loads(line)
        signature = str(data.pop("sig"))
        checkpoint = Checkpoint(**data)
    except (ValueError, KeyError, TypeError) as error:
        raise Unreadable(str(error)) from None
    if not (isinstance(checkpoint.count, int) and isinstance(checkpoint.head_seq, int)):
        raise Unreadable("count and head_seq must be whole numbers")
    return Signed(checkpoint, signature)


def latest(path: Path, how_many: int) -> list[tuple[int, str]]:
    """The last `how_many` lines of the file (all when 0), with their line numbers."""
    if not path.is_file():
        return []
    kept: deque[tuple[int, str]] = deque(maxlen=how_many or None)
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                kept.append((number, line))
    return list(kept)
