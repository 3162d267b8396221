-- A sender's claim on an outbox message: a random token set with the claim's expiry
-- (next_attempt_at), so only the holder of a live claim marks the message sent, retried or
-- parked.
ALTER TABLE outbox ADD COLUMN claim_token TEXT;
