-- Database sources ([[source]] of the configuration): what each pull left behind. The source
-- itself is never written to; everything chieftech remembers of it is here.

-- One row per source: the pulls so far (each pull takes the next number, even one that
-- records nothing), the watermark after the last pull that recorded something, and when.
CREATE TABLE source_state (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,             -- roster | changes
    pulls BIGINT NOT NULL DEFAULT 0,
    watermark TEXT,                 -- the largest watermark value taken in, as the source wrote it
    last_pull_at TEXT,              -- RFC 3339 UTC of the last pull that recorded something
    last_full_at TEXT,              -- of the last full pull (every row read)
    last_outcome TEXT
);

-- Every row key a pull has read: the last pull that saw it, and the full pull that found it
-- missing and told the bureau (once per disappearance: a key seen again after that and then
-- missing again is reported again). A missing row is reported, never voided.
CREATE TABLE source_keys (
    source TEXT NOT NULL,
    row_key TEXT NOT NULL,
    first_pull BIGINT NOT NULL,
    last_pull BIGINT NOT NULL,
    reported_missing_pull BIGINT,
    reported_missing_at TEXT,
    returned_pull BIGINT,           -- the pull that read it again after it was reported missing
    PRIMARY KEY (source, row_key)
);
CREATE INDEX source_keys_last_pull ON source_keys (source, last_pull);
