-- A failed job run is retried with backoff (status 'retrying' until next_attempt_at), then
-- given up as 'failed' and shown until a person acknowledges it (acked_by, acked_at). A run a
-- newer scheduled time took over is 'superseded'. attempts counts the attempts made so far.
ALTER TABLE job_runs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1;
ALTER TABLE job_runs ADD COLUMN next_attempt_at TEXT;
ALTER TABLE job_runs ADD COLUMN acked_by TEXT;
ALTER TABLE job_runs ADD COLUMN acked_at TEXT;
CREATE INDEX job_runs_status ON job_runs (status);
