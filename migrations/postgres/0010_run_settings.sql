-- A run keeps the settings it was computed with (proration, offsetting, the effects of 退休 and
-- 离岗, the policy versions) as canonical JSON, and their fingerprint: show, approve and export
-- use them, and approval refuses a draft whose settings differ from the current configuration.
ALTER TABLE runs ADD COLUMN settings TEXT;
ALTER TABLE runs ADD COLUMN settings_hash TEXT;
