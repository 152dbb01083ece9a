"""The sealer: one worker at a time chains the unsealed audit rows and signs checkpoints.

Every worker runs a Sealer (started by the app lifespan); only the one holding the
"sealer" lease (feeds/leases.py) seals, and another worker takes over within `LEASE` of a
crash. The lease only avoids wasted work: correctness does not depend on it, because the
database refuses a second sealer's conflicting seq (feeds/audit/chain.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from feeds.audit import anchors, chain, checkpoints
from feeds.background import BackgroundLoop
from feeds.leases import Lease

log = logging.getLogger("jigsaw.audit")
echo = logging.getLogger("jigsaw.audit.checkpoint")  # one INFO line per signed checkpoint

LEASE_NAME = "sealer"
LEASE = timedelta(seconds=10)
SEAL_INTERVAL = 0.5  # seconds between looks for unsealed rows: sealed within ~1 s
CHECKPOINT_INTERVAL = 5.0  # seconds between signed checkpoints while the chain grows


class Sealer:
    """Seals unsealed audit rows and appends signed checkpoints, while elected."""

    def __init__(
        self,
        key: Ed25519PrivateKey,
        checkpoint_file: Path,
        interval: float = SEAL_INTERVAL,
        checkpoint_interval: float = CHECKPOINT_INTERVAL,
    ) -> None:
        self.key = key
        self.checkpoint_file = checkpoint_file
        self.checkpoint_interval = checkpoint_interval
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.loop = BackgroundLoop("jigsaw-audit-sealer", self.step, interval)
        self._sealing = asyncio.Lock()  # the loop's step and seal_now, one at a time
        self.lease = Lease(LEASE_NAME, self.name, LEASE)
        self._last: checkpoints.Checkpoint | None = None  # the last one this sealer wrote
        self._last_at = 0.0  # monotonic

    async def step(self) -> None:
        """One round: hold the lease, seal what is committed, sign a checkpoint if due."""
        if not await self._hold_lease():
            return
        async with self._sealing:
            try:
                # Stop between batches once the lease is due for renewal: a backlog sealed
                # past the lease's end would race the next sealer elected.
                await chain.seal_pending(keep_going=self._lease_is_fresh)
            except chain.SealRace:
                # Safe (the batch rolled back) and expected at a handover: no traceback.
                log.info("audit sealer %s: another sealer sealed first; standing by", self.name)
                return
            await self._checkpoint_if_due()

    def _lease_is_fresh(self) -> bool:
        return self.lease.fresh

    async def seal_now(self) -> checkpoints.Signed:
        """Seal what is committed and sign a checkpoint now, elected or not (tests, and
        a single-process tool). Another process sealing at once makes this fail cleanly
        (the database refuses the second seq) rather than fork the chain."""
        async with self._sealing:
            await chain.seal_pending()
            return await self._checkpoint()

    async def stop(self, grace: float = 5.0) -> None:
        """Stop the loop and hand the lease on (best effort: it lapses anyway)."""
        await self.loop.stop(grace)
        await self.lease.release()

    async def _hold_lease(self) -> bool:
        was_held = self.lease.held
        if not await self.lease.hold():
            return False
        if not was_held:
            log.info("audit sealer elected: %s", self.name)
            self._last = None  # checkpoint promptly as the new sealer
        return True

    async def _checkpoint_if_due(self) -> None:
        if self._last is not None:
            if time.monotonic() - self._last_at < self.checkpoint_interval:
                return
            if (await chain.head()).seq == self._last.head_seq:
                return  # nothing sealed since the last checkpoint
        await self._checkpoint()

    async def _checkpoint(self) -> checkpoints.Signed:
        await self._alarm_if_rewritten()
        signed = await checkpoints.current(self.key)
        checkpoints.append(self.checkpoint_file, signed)
        # A second copy outside the database and the file: log shipping keeps it.
        echo.info("audit checkpoint %s", signed.line())
        self._last, self._last_at = signed.checkpoint, time.monotonic()
        return signed

    async def _archived(self, seq: int) -> bool:
        """Whether a validly signed archive anchor covers this seq (an anchor that does not
        verify covers nothing: `jigsaw audit verify` reports it)."""
        found = await anchors.read(self.key.public_key())
        return bool(found.anchors) and seq <= found.anchors[-1].anchor.seq

    async def _alarm_if_rewritten(self) -> None:
        """The chain must still hold what this sealer last signed. If not, someone changed
        the database under it: say so loudly. The next checkpoint is still written, since
        the earlier one in the file keeps the evidence."""
        last = self._last
        if last is None or last.head_seq == 0:
            return
        found = await chain.hash_at(last.head_seq)
        if found is None and await self._archived(last.head_seq):
            return  # its month left by `jigsaw audit archive`, behind a signed anchor
        if found != last.head_hash:
            log.error(
                "AUDIT LOG TAMPERED: the record at seq %s no longer matches the checkpoint "
                "of %s (deleted or re-sealed); run `jigsaw audit verify`",
                last.head_seq,
                last.at,
            )
