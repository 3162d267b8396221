-- The ledger. Money is integer fen; dates are ISO text (YYYY-MM-DD), timestamps RFC 3339 text.
-- Append-only: changes are voided, never deleted; approved runs are never edited.

CREATE TABLE sources (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,             -- roster-file | changes-file | operator | api
    file_name TEXT,
    sha256 TEXT,
    operator TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    summary TEXT
);
CREATE UNIQUE INDEX sources_file ON sources (kind, sha256);

CREATE TABLE units (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    contact TEXT,
    email TEXT
);

CREATE TABLE technicians (
    id BIGSERIAL PRIMARY KEY,
    id_number TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL
);

CREATE TABLE appointments (
    id BIGSERIAL PRIMARY KEY,
    technician_id BIGINT NOT NULL REFERENCES technicians (id),
    approval_date TEXT NOT NULL,
    approval_no TEXT NOT NULL,
    unit_id BIGINT REFERENCES units (id),
    occupation TEXT,
    level TEXT,
    bank_account TEXT,
    bank_name TEXT,
    phone TEXT,
    email TEXT,
    source_id BIGINT NOT NULL REFERENCES sources (id),
    source_row BIGINT,
    UNIQUE (technician_id, approval_date)
);

CREATE TABLE changes (
    id BIGSERIAL PRIMARY KEY,
    technician_id BIGINT NOT NULL REFERENCES technicians (id),
    appointment_id BIGINT REFERENCES appointments (id),
    kind TEXT NOT NULL,
    effective TEXT NOT NULL,
    end_date TEXT,
    new_unit TEXT,
    decision_no TEXT,
    title_no TEXT,
    note TEXT,
    amends BIGINT REFERENCES changes (id),
    source_id BIGINT NOT NULL REFERENCES sources (id),
    source_row BIGINT,
    recorded_at TEXT NOT NULL,
    operator TEXT NOT NULL,
    voided_at TEXT,
    voided_by TEXT,
    void_reason TEXT
);
CREATE INDEX changes_technician ON changes (technician_id);

-- Every action, with who and when; money = 1 when it can change what a run computes.
CREATE TABLE audit (
    id BIGSERIAL PRIMARY KEY,
    at TEXT NOT NULL,
    operator TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    money BIGINT NOT NULL
);

CREATE TABLE runs (
    id BIGSERIAL PRIMARY KEY,
    year BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    status TEXT NOT NULL,           -- draft | approved
    supplementary BIGINT NOT NULL,
    today TEXT NOT NULL,
    computed_at TEXT NOT NULL,
    computed_by TEXT NOT NULL,
    computed_as_of BIGINT NOT NULL, -- the last money audit id the draft saw
    approved_at TEXT,
    approved_by TEXT,
    UNIQUE (year, seq)
);

-- One row per appointment with lines in a run; lines packed as "2023-05r30645,2022-09x-25000".
CREATE TABLE run_items (
    run_id BIGINT NOT NULL REFERENCES runs (id),
    appointment_id BIGINT NOT NULL REFERENCES appointments (id),
    technician_id BIGINT NOT NULL REFERENCES technicians (id),
    net_fen BIGINT NOT NULL,
    lines TEXT NOT NULL,
    bank_account TEXT,
    bank_name TEXT,
    PRIMARY KEY (run_id, appointment_id)
);

CREATE TABLE run_uncovered (
    run_id BIGINT NOT NULL REFERENCES runs (id),
    appointment_id BIGINT NOT NULL REFERENCES appointments (id),
    months TEXT NOT NULL,
    PRIMARY KEY (run_id, appointment_id)
);

-- A one-row table whose update takes the ledger's write lock on both backends.
CREATE TABLE ledger_lock (id BIGINT PRIMARY KEY, n BIGINT NOT NULL);
INSERT INTO ledger_lock (id, n) VALUES (1, 0);
