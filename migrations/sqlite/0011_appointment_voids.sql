-- An appointment recorded in error (a mistyped approval date, say) is voided, never deleted:
-- kept with who voided it, when and why. A voided appointment earns nothing, so the next run
-- recovers what was paid for it; the corrected roster row then imports as a new appointment.
ALTER TABLE appointments ADD COLUMN voided_at TEXT;
ALTER TABLE appointments ADD COLUMN voided_by TEXT;
ALTER TABLE appointments ADD COLUMN void_reason TEXT;
