-- The ledger. Money is integer fen; dates are ISO text (YYYY-MM-DD), timestamps RFC 3339 text.
-- Append-only: changes are voided, never deleted; approved runs are never edited.

CREATE TABLE sources (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,             -- roster-file | changes-file | operator | api
    file_name TEXT,
    sha256 TEXT,
    operator TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    summary TEXT
);
CREATE UNIQUE INDEX sources_file ON sources (kind, sha256);

CREATE TABLE units (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    contact TEXT,
    email TEXT
);

CREATE TABLE technicians (
    id INTEGER PRIMARY KEY,
    id_number TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL
);

CREATE TABLE appointments (
    id INTEGER PRIMARY KEY,
    technician_id INTEGER NOT NULL REFERENCES technicians (id),
    approval_date TEXT NOT NULL,
    approval_no TEXT NOT NULL,
    unit_id INTEGER REFERENCES units (id),
    occupation TEXT,
    level TEXT,
    bank_account TEXT,
    bank_name TEXT,
    phone TEXT,
    email TEXT,
    source_id INTEGER NOT NULL REFERENCES sources (id),
    source_row INTEGER,
    UNIQUE (technician_id, approval_date)
);

CREATE TABLE changes (
    id INTEGER PRIMARY KEY,
    technician_id INTEGER NOT NULL REFERENCES technicians (id),
    appointment_id INTEGER REFERENCES appointments (id),
    kind TEXT NOT NULL,
    effective TEXT NOT NULL,
    end_date TEXT,
    new_unit TEXT,
    decision_no TEXT,
    title_no TEXT,
    note TEXT,
    amends INTEGER REFERENCES changes (id),
    source_id INTEGER NOT NULL REFERENCES sources (id),
    source_row INTEGER,
    recorded_at TEXT NOT NULL,
    operator TEXT NOT NULL,
    voided_at TEXT,
    voided_by TEXT,
    void_reason TEXT
);
CREATE INDEX changes_technician ON changes (technician_id);

-- Every action, with who and when; money = 1 when it can change what a run computes.
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    operator TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    money INTEGER NOT NULL
);

CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    year INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    status TEXT NOT NULL,           -- draft | approved
    supplementary INTEGER NOT NULL,
    today TEXT NOT NULL,
    computed_at TEXT NOT NULL,
    computed_by TEXT NOT NULL,
    computed_as_of INTEGER NOT NULL, -- the last money audit id the draft saw
    approved_at TEXT,
    approved_by TEXT,
    UNIQUE (year, seq)
);

-- One row per appointment with lines in a run; lines packed as "2023-05r30645,2022-09x-25000".
CREATE TABLE run_items (
    run_id INTEGER NOT NULL REFERENCES runs (id),
    appointment_id INTEGER NOT NULL REFERENCES appointments (id),
    technician_id INTEGER NOT NULL REFERENCES technicians (id),
    net_fen INTEGER NOT NULL,
    lines TEXT NOT NULL,
    bank_account TEXT,
    bank_name TEXT,
    PRIMARY KEY (run_id, appointment_id)
);

CREATE TABLE run_uncovered (
    run_id INTEGER NOT NULL REFERENCES runs (id),
    appointment_id INTEGER NOT NULL REFERENCES appointments (id),
    months TEXT NOT NULL,
    PRIMARY KEY (run_id, appointment_id)
);

-- A one-row table whose update takes the ledger's write lock on both backends.
CREATE TABLE ledger_lock (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
INSERT INTO ledger_lock (id, n) VALUES (1, 0);
