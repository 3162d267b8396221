-- A status change concerns the person: it may apply to several of the person's appointments
-- (docs/rules.md §5). appointment_ids lists them ("12,15"); appointment_id keeps the first, for
-- queries that only need one. reported_by tells a unit's report from the bureau's own entry: a
-- unit may never amend a row the bureau recorded.
ALTER TABLE changes ADD COLUMN appointment_ids TEXT;
ALTER TABLE changes ADD COLUMN reported_by TEXT NOT NULL DEFAULT 'bureau';
UPDATE changes SET appointment_ids = CAST(appointment_id AS TEXT) WHERE appointment_id IS NOT NULL;
UPDATE changes SET reported_by = 'unit' WHERE source_id IN (SELECT id FROM sources WHERE kind IN ('unit-mail', 'unit-file'));
