-- Exports of approved runs (payrun export): one row per run, never a second batch.
-- Each file written is recorded with its SHA-256; each bank file part with its batch
-- reference, row count and sum (integer fen), the control totals of the summary workbook.

CREATE TABLE exports (
    id BIGSERIAL PRIMARY KEY,
    run_id BIGINT NOT NULL UNIQUE REFERENCES runs (id),
    exported_at TEXT NOT NULL,       -- RFC 3339, wall clock of the first export
    operator TEXT NOT NULL,
    bank_rows BIGINT NOT NULL,      -- people paid, all parts
    bank_fen BIGINT NOT NULL,       -- sum paid, all parts
    template TEXT NOT NULL           -- the bank template's name
);

CREATE TABLE export_files (
    export_id BIGINT NOT NULL REFERENCES exports (id),
    file_name TEXT NOT NULL,
    kind TEXT NOT NULL,              -- bank | summary
    part BIGINT,                    -- bank file part (1-based); NULL for the summary
    batch_ref TEXT UNIQUE,           -- bank file part: the batch reference; NULL for the summary
    row_count BIGINT,               -- bank file part: payment rows
    sum_fen BIGINT,                 -- bank file part: sum of the rows
    sha256 TEXT NOT NULL,
    PRIMARY KEY (export_id, file_name)
);
