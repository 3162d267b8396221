-- Each inbox item counts its processing attempts (a crash or an error counts one); an item
-- that reaches [inbox] max_attempts is marked failed, the bureau is told once, and no scan
-- takes it up again. last_error keeps the latest failure (masked).
ALTER TABLE inbox_items ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE inbox_items ADD COLUMN last_error TEXT;
