-- The transactional outbox: a notice is queued in the transaction of the event that causes
-- it, under a unique key, so queuing it again is a no-op.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    message_id TEXT NOT NULL,
    recipients TEXT NOT NULL,       -- comma-separated addresses
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    attachments TEXT NOT NULL,      -- newline-separated file paths
    status TEXT NOT NULL,           -- queued | sent | parked
    attempts INTEGER NOT NULL,
    next_attempt_at TEXT NOT NULL,  -- RFC 3339, UTC
    last_error TEXT,
    queued_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
