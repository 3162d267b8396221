-- The scheduler's record: one row per job and scheduled time (run once across daemons),
-- a lock per job (a job never overlaps itself), and the daemon's first start.
CREATE TABLE job_runs (
    id INTEGER PRIMARY KEY,
    job TEXT NOT NULL,
    scheduled_at TEXT NOT NULL,     -- RFC 3339 UTC; manual runs: the time they were asked for
    status TEXT NOT NULL,           -- running | ok | failed | missed
    owner TEXT NOT NULL,
    started_at TEXT,
    heartbeat_at TEXT,
    finished_at TEXT,
    outcome TEXT,
    UNIQUE (job, scheduled_at)
);
CREATE TABLE job_locks (
    job TEXT PRIMARY KEY,
    owner TEXT,
    until TEXT
);
CREATE TABLE daemon_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
