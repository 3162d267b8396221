-- After the bank (回盘, 重发, 分期追缴). Append-only like the rest of the ledger: a payment's
-- state, a re-issue, a plan and a repayment are each a row of their own, never an update.

-- Every bank-file row an export wrote: one per person paid in a run, with its part's batch
-- reference and its row number (序号) in that part, the amount and the account it went to.
-- A payment without a row in payment_results is "exported" (sent, not yet answered).
CREATE TABLE payments (
    id BIGSERIAL PRIMARY KEY,
    run_id BIGINT NOT NULL REFERENCES runs (id),
    technician_id BIGINT NOT NULL REFERENCES technicians (id),
    batch_ref TEXT NOT NULL,
    row_no BIGINT NOT NULL,
    fen BIGINT NOT NULL,
    bank_account TEXT NOT NULL,
    bank_name TEXT NOT NULL,
    UNIQUE (batch_ref, row_no),
    UNIQUE (run_id, technician_id)
);
CREATE INDEX payments_technician ON payments (technician_id);

-- The bank's answer for a payment, read from its return file (payrun reconcile): paid or
-- failed, once. The same answer again is a no-op; a different one is refused.
CREATE TABLE payment_results (
    payment_id BIGINT PRIMARY KEY REFERENCES payments (id),
    status TEXT NOT NULL,           -- paid | failed
    bank_date TEXT NOT NULL,        -- YYYY-MM-DD: the bank's date, else the day reconciled
    reason TEXT,                    -- a failure's reason, as the bank gives it
    source_id BIGINT NOT NULL REFERENCES sources (id),
    source_row BIGINT NOT NULL,
    recorded_at TEXT NOT NULL,
    operator TEXT NOT NULL
);

-- A run's re-issue (重发) of a failed payment: paid again in the person's bank row of the run,
-- to the account on the roster when the run was computed. A payment is re-issued at most once.
CREATE TABLE run_reissues (
    run_id BIGINT NOT NULL REFERENCES runs (id),
    payment_id BIGINT NOT NULL UNIQUE REFERENCES payments (id),
    technician_id BIGINT NOT NULL REFERENCES technicians (id),
    fen BIGINT NOT NULL,
    bank_account TEXT,              -- fixed at approval, like run_items' (a draft shows the roster's)
    bank_name TEXT,
    PRIMARY KEY (run_id, payment_id)
);

-- What a run recovers from a person (追缴, the negative side of the person's net): the
-- recoveries due are those of approved runs.
CREATE TABLE run_recoveries (
    run_id BIGINT NOT NULL REFERENCES runs (id),
    technician_id BIGINT NOT NULL REFERENCES technicians (id),
    fen BIGINT NOT NULL,           -- > 0: the amount to recover
    PRIMARY KEY (run_id, technician_id)
);

-- What a run offsets against a person's planned recovery (抵扣): taken from the person's bank
-- row of the run; counts once the run is approved.
CREATE TABLE run_offsets (
    run_id BIGINT NOT NULL REFERENCES runs (id),
    technician_id BIGINT NOT NULL REFERENCES technicians (id),
    fen BIGINT NOT NULL,           -- > 0
    PRIMARY KEY (run_id, technician_id)
);

-- A person's recovery plan (分期追缴): the latest plan not replaced is in force.
CREATE TABLE recovery_plans (
    id BIGSERIAL PRIMARY KEY,
    technician_id BIGINT NOT NULL REFERENCES technicians (id),
    per_run_fen BIGINT,            -- recovery plan --per-run AMOUNT
    months BIGINT,                 -- recovery plan --months K
    monthly_fen BIGINT,            -- with --months: the monthly instalment
    start_month TEXT NOT NULL,      -- YYYY-MM: the first instalment's month
    balance_fen BIGINT NOT NULL,   -- the open balance when planned
    created_at TEXT NOT NULL,
    operator TEXT NOT NULL,
    replaced_at TEXT
);
CREATE INDEX recovery_plans_technician ON recovery_plans (technician_id);

-- Repayments the bureau received (还款), each under its own reference, once.
CREATE TABLE recovery_repayments (
    id BIGSERIAL PRIMARY KEY,
    technician_id BIGINT NOT NULL REFERENCES technicians (id),
    fen BIGINT NOT NULL,           -- > 0
    paid_on TEXT NOT NULL,          -- YYYY-MM-DD
    reference TEXT NOT NULL UNIQUE,
    recorded_at TEXT NOT NULL,
    operator TEXT NOT NULL
);
CREATE INDEX recovery_repayments_technician ON recovery_repayments (technician_id);
