"""Verifying the audit log: the hash chain of sealed rows, then the signed checkpoints.

`jigsaw audit verify` prints `Report.lines()`. What each check catches is stated there
and in docs/trust.md:

- the chain, walked by seq: a changed, removed or reordered sealed record (names it);
- each checkpoint (signature, then count and hash at its seq): the newest records
  deleted, or the whole chain re-sealed, by someone without the signing key;
- each archive anchor (signature, and that they follow one another): the walk starts at
  the newest one, so months archived by `jigsaw audit archive` are not "missing", and an
  anchor edited, forged or removed is reported (feeds/audit/anchors.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from feeds import raw_sql
from feeds.audit import anchors, checkpoints
from feeds.audit.chain import GENESIS, Head, fields_of, record_hash
from feeds.audit.keys import key_id
from feeds.models import AuditRecord

WALK_BATCH = 1000


@dataclass(frozen=True)
class Verdict:
    """The chain walk: how many sealed records matched before the first that did not."""

    checked: int  # records walked (after the archive anchor, if any)
    first_bad_id: int | None
    reason: str = ""
    head_seq: int = 0  # the last seq walked
    hashes: dict[int, str] = field(default_factory=dict)  # at the seqs asked for

    @property
    def ok(self) -> bool:
        return self.first_bad_id is None


async def verify_chain(wanted: frozenset[int] = frozenset(), start: Head | None = None) -> Verdict:
    """Recompute the chain in seq order from `start` (default: the newest archive anchor,
    unchecked, or the genesis); name the first record that is missing, altered or out of
    place. Keeps the stored hash at `wanted` seqs."""
    if start is None:
        start = (await anchors.read(None)).start
    previous, seq = start.hash, start.seq
    hashes = {seq: previous} if seq in wanted else dict[int, str]()
    while rows := await AuditRecord.filter(seq__gt=seq).order_by("seq").limit(WALK_BATCH):
        for row in rows:
            if row.seq != seq + 1:
                missing = f"seq {seq + 1}" + (f" to {row.seq - 1}" if row.seq > seq + 2 else "")
                reason = f"records missing before it ({missing}): deleted"
                return Verdict(seq - start.seq, row.id, reason, seq, hashes)
            if row.hash != record_hash(previous, fields_of(row)):
                altered = "altered, or a record before it"
                return Verdict(seq - start.seq, row.id, altered, seq, hashes)
            previous, seq = str(row.hash), row.seq
            if seq in wanted:
                hashes[seq] = previous
    return Verdict(seq - start.seq, None, "", seq, hashes)


@dataclass(frozen=True)
class Unsealed:
    count: int
    oldest_id: int | None = None
    oldest_at: datetime | None = None


async def unsealed_tail() -> Unsealed:
    rows = await raw_sql.fetch("SELECT count(*), min(id) FROM audit_record WHERE seq IS NULL")
    count, oldest = int(rows[0][0]), rows[0][1]
    if not count:
        return Unsealed(0)
    record = await AuditRecord.get(id=oldest)
    return Unsealed(count, int(oldest), record.at)


@dataclass
class Report:
    chain: Verdict
    unsealed: Unsealed
    checkpoint_file: Path
    problems: list[str] = field(default_factory=list)  # tampering detected
    unchecked: list[str] = field(default_factory=list)  # what could not be checked
    checkpoints_checked: int = 0
    latest: checkpoints.Checkpoint | None = None
    archived: list[anchors.SignedAnchor] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.problems

    def lines(self) -> list[str]:
        return _describe(self)


def _read(path: Path, how_many: int, problems: list[str]) -> list[tuple[int, checkpoints.Signed]]:
    entries = []
    for number, line in checkpoints.latest(path, how_many):
        try:
            entries.append((number, checkpoints.parse(line)))
        except checkpoints.Unreadable:
            problems.append(f"checkpoint file line {number} is not a checkpoint (edited?)")
    return entries


def _check_one(
    number: int, signed: checkpoints.Signed, key: Ed25519PublicKey | None, chain: Verdict
) -> str | None:
    """What is wrong with the database according to this checkpoint, if anything."""
    point = signed.checkpoint
    where = f"the checkpoint of {point.at} (line {number})"
    if key is not None and point.key != key_id(key):
        return f"{where} is signed by key {point.key}, not by the public key {key_id(key)}"
    if key is not None and not signed.verifies(key):
        return f"{where} has a bad signature: the checkpoint file was edited or forged"
    if chain.ok and point.head_seq > chain.head_seq:
        return (
            f"the newest records were deleted: {where} covers {point.count} records up to seq"
            f" {point.head_seq}; the chain now ends at seq {chain.head_seq}"
        )
    if point.head_seq not in chain.hashes and point.head_seq != 0:
        return None  # beyond a break already reported
    found = chain.hashes.get(point.head_seq, GENESIS)
    if found != point.head_hash:
        return (
            f"the chain was rewritten (re-sealed): the record at seq {point.head_seq} no longer"
            f" has the hash signed in {where}"
        )
    if point.count != point.head_seq:
        return f"{where} counts {point.count} records but ends at seq {point.head_seq}"
    return None


async def verify_log(
    key: Ed25519PublicKey | None, checkpoint_file: Path, how_many: int = 0
) -> Report:
    """The chain, then every checkpoint (or the latest `how_many`) against it. Every one
    by default: after the newest rows are deleted, the running sealer goes on signing
    checkpoints of the shorter chain, and only the earlier ones show the deletion."""
    problems: list[str] = []
    entries = _read(checkpoint_file, how_many, problems)
    archive = await anchors.read(key)
    problems += archive.problems
    wanted = frozenset(s.checkpoint.head_seq for _, s in entries)
    chain = await verify_chain(wanted, archive.start)
    report = Report(chain, await unsealed_tail(), checkpoint_file, problems)
    report.archived = archive.anchors
    for number, signed in entries:
        problem = _check_one(number, signed, key, chain)
        if problem:
            report.problems.append(problem)
        report.checkpoints_checked += 1
    report.latest = entries[-1][1].checkpoint if entries else None
    if key is None and (entries or chain.head_seq):
        report.unchecked.append("checkpoint signatures (no public key)")
    if key is None and archive.anchors:
        report.unchecked.append("archive anchor signatures (no public key)")
    if report.latest is None and (chain.head_seq or not chain.ok):
        report.unchecked.append(f"checkpoints (none in {checkpoint_file})")
    return report


CAN_DETECT = (
    "Detects: any sealed record changed, removed or reordered (named); the newest records"
    " deleted, or the whole chain re-sealed, up to the latest checkpoint."
)
CANNOT_DETECT = (
    "Cannot detect: changes to unsealed records or to records sealed after the latest"
    " checkpoint; a rewrite by someone who also holds the signing key and the checkpoint"
    " file (compare with the checkpoints echoed to the log, or kept elsewhere)."
)


def _describe(report: Report) -> list[str]:
    chain, lines = report.chain, []
    if chain.ok:
        lines.append(f"Chain intact: {chain.checked} sealed records verified in seq order.")
    else:
        lines.append(
            f"Audit chain broken at record {chain.first_bad_id} ({chain.reason}); "
            f"{chain.checked} records before it verified."
        )
    if report.archived:
        last = report.archived[-1].anchor
        months = [m for signed in report.archived for m in signed.anchor.months]
        lines.append(
            f"Archived: records 1 to {last.seq} ({', '.join(months)}), {len(report.archived)}"
            f" signed anchor(s); the chain is verified from seq {last.seq} ({last.at})."
        )
    lines += [f"TAMPERED: {problem}" for problem in report.problems]
    if report.latest is not None:
        point, behind = report.latest, max(0, chain.head_seq - report.latest.head_seq)
        lines.append(
            f"Checkpoints: {report.checkpoints_checked} checked; the latest, {point.at}, covers"
            f" {point.count} records; {behind} sealed since are not yet covered."
        )
    lines += [f"NOT CHECKED: {what}." for what in report.unchecked]
    tail = report.unsealed
    if tail.count:
        lines.append(
            f"Unsealed: {tail.count} records not yet chained (oldest id {tail.oldest_id},"
            f" {tail.oldest_at:%Y-%m-%d %H:%M:%S} UTC); they are sealed by the running app."
        )
    else:
        lines.append("Unsealed: none.")
    return [*lines, CAN_DETECT, CANNOT_DETECT]
