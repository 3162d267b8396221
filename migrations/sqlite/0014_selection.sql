-- The selection round (评选, issue 14): candidates from nomination to appointment. Append-only
-- like the ledger: a step, an objection's resolution and a score are rows added, never edited;
-- a candidate's details are updated only by a later nominations file (audited).

-- One round per year: `selection open --year Y --deadline D`.
CREATE TABLE selection_rounds (
    year INTEGER PRIMARY KEY,
    deadline TEXT NOT NULL,          -- YYYY-MM-DD: nominations reach the bureau by this day
    approval_by TEXT NOT NULL,       -- the expected approval day (a term running then is checked)
    document TEXT,                   -- the call for nominations' 文号
    opened_at TEXT NOT NULL,
    operator TEXT NOT NULL
);

-- A candidate of a round (one per person and year), as the nominating body's workbook gave it.
CREATE TABLE candidates (
    id INTEGER PRIMARY KEY,
    year INTEGER NOT NULL REFERENCES selection_rounds (year),
    number INTEGER NOT NULL,         -- 编号 within the round: 1, 2, … in order of import
    id_number TEXT NOT NULL,
    name TEXT NOT NULL,
    nominator TEXT NOT NULL,         -- 推荐单位
    unit TEXT NOT NULL,              -- 工作单位
    occupation TEXT NOT NULL,
    level TEXT NOT NULL,
    certificate_no TEXT NOT NULL,
    achievements TEXT NOT NULL,
    phone TEXT NOT NULL,
    notice_from TEXT NOT NULL,       -- the nominating body's 推荐公示
    notice_to TEXT NOT NULL,
    received TEXT NOT NULL,          -- the day the nomination reached the bureau
    bank_name TEXT,
    bank_account TEXT,
    email TEXT,
    source_id INTEGER NOT NULL REFERENCES sources (id),
    source_row INTEGER,
    UNIQUE (year, id_number),
    UNIQUE (year, number)
);

-- Every step: the candidate entered `stage` on `step_date`. A stage is entered once.
CREATE TABLE candidate_steps (
    id INTEGER PRIMARY KEY,
    candidate_id INTEGER NOT NULL REFERENCES candidates (id),
    stage TEXT NOT NULL,             -- rules::selection::Stage::code
    step_date TEXT NOT NULL,
    document TEXT,                   -- 文号 of the decision or notice
    reason TEXT,                     -- 退出 needs one
    source TEXT NOT NULL,            -- the file or command it came from
    operator TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    UNIQUE (candidate_id, stage)
);

-- Objections (异议) received during a notice, and how each ended (once).
CREATE TABLE candidate_objections (
    id INTEGER PRIMARY KEY,
    candidate_id INTEGER NOT NULL REFERENCES candidates (id),
    stage TEXT NOT NULL,             -- the notice stage it was received in
    received TEXT NOT NULL,
    summary TEXT NOT NULL,
    raised_by TEXT,
    operator TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE TABLE objection_resolutions (
    objection_id INTEGER PRIMARY KEY REFERENCES candidate_objections (id),
    resolved_on TEXT NOT NULL,
    outcome TEXT NOT NULL,           -- upheld | dismissed
    note TEXT,
    operator TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);

-- Expert scores (评审), one per candidate and expert, in hundredths of a point.
CREATE TABLE candidate_scores (
    id INTEGER PRIMARY KEY,
    candidate_id INTEGER NOT NULL REFERENCES candidates (id),
    expert TEXT NOT NULL,
    score_centi INTEGER NOT NULL,
    source_id INTEGER NOT NULL REFERENCES sources (id),
    source_row INTEGER,
    UNIQUE (candidate_id, expert)
);

-- The appointment an approved candidate became.
CREATE TABLE candidate_appointments (
    candidate_id INTEGER PRIMARY KEY REFERENCES candidates (id),
    appointment_id INTEGER NOT NULL REFERENCES appointments (id)
);
