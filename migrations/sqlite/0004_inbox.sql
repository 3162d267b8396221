-- The inbox: every e-mailed report or hand-dropped workbook taken in, once, keyed by its
-- Message-ID (messages) and by the SHA-256 of its bytes. A message that cannot be believed
-- yet is held here, with its bytes, until a clerk accepts it.
CREATE TABLE inbox_items (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,             -- message | file
    message_id TEXT UNIQUE,         -- Message-ID without angle brackets; NULL for files
    sha256 TEXT NOT NULL UNIQUE,    -- of the message's or file's bytes
    file_name TEXT NOT NULL,        -- where it was found
    sender TEXT,                    -- the From address
    subject TEXT,
    received_at TEXT,               -- the Date header (RFC 3339), else the file's time
    taken_at TEXT NOT NULL,         -- RFC 3339, UTC
    status TEXT NOT NULL,           -- processing | done | held | refused
    reason TEXT,                    -- why held or refused
    summary TEXT,                   -- what was done, one line
    raw BLOB,                       -- the message's bytes while it is held
    operator TEXT NOT NULL,
    accepted_by TEXT,
    accepted_at TEXT,
    finished_at TEXT
);
CREATE INDEX inbox_items_status ON inbox_items (status);
