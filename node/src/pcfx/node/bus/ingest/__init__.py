"""Verify-before-use ingestion: fetch -> verify -> store -> ack (PROTOCOL.md section 5).

A batch of messages is decided in one database transaction; acks go out only after it commits, so a crash
anywhere before the commit leads to redelivery, and a crash after it to a harmless duplicate (same bytes,
recognised by hash, acked without change). Invalid messages are quarantined with their reason and
terminated (never redelivered); transient failures (database unavailable, status list not yet known) are
nak'ed with exponential backoff. A declaration on a subject of another issuer is terminated at once, and the
retries of one waiting for its status list are bounded (`retries`), so no flood can stop a consumer.

The batch path: one query for the hashes already stored, verification of the rest in memory, one query
each for the declaration ids and the newest stored version of every (issuer, product) concerned, the
downgrade rule applied in Python (also between messages of the batch), then one multi-row INSERT per table
(receipts, declarations, quarantine, audit) and one commit. Status-list messages, rare, are decided one by
one at their place in the batch. Anything unexpected in the batch path falls back to deciding message by
message, each in its own savepoint.

Pipelining (`verify_workers` > 0): `run_consumer` hands batch k+1 to the verification workers (`prepare`)
before it decides and stores batch k (`complete`), so the store work of one batch overlaps the verification
of the next. A worker's result is only a proposal: it is used when, inside the deciding transaction, every
status list it looked up is still the node's current one (`accept`), else the message is verified again
in-process; nothing is stored or acked before that. A dead worker means the pool is restarted and the batch
verified in-process.

Buyer-only declarations (`pcfx.v1.dto.<own account>.>`, PROTOCOL.md section 9.4) are opened first with the
node's key-agreement keys (`sealed`; a refusal quarantines the envelope), then decided exactly like public
ones: one version history per (issuer, product) whichever channel a version came by.

Modules: `model` (messages, decisions, events, the verifier protocol), `sealed` (opening buyer-only
messages), the batch path in its order (`screening`, `versions`, `batch_writer`), `per_message` (status lists and the fallback), `retries` (the
bounds on retrying), `ingestor` (the transaction, acks and listeners), `consumer` (the pull loop, which
re-creates a deleted consumer and reports to the feed's health)."""

from __future__ import annotations

from pcfx.node.bus.ingest.consumer import FeedReport, run_consumer
from pcfx.node.bus.ingest.ingestor import BatchObserver, Ingestor
from pcfx.node.bus.ingest.model import (
    Action,
    BatchListener,
    Decision,
    Incoming,
    IngestReason,
    Listener,
    Prepared,
    StatusOutcome,
    StoredEvent,
    VerificationLike,
    Verifier,
    backoff_delay,
)
from pcfx.node.bus.ingest.retries import RetryBudget

__all__ = [
    "Action",
    "BatchListener",
    "BatchObserver",
    "Decision",
    "FeedReport",
    "Incoming",
    "IngestReason",
    "Ingestor",
    "Listener",
    "Prepared",
    "RetryBudget",
    "StatusOutcome",
    "StoredEvent",
    "VerificationLike",
    "Verifier",
    "backoff_delay",
    "run_consumer",
]
