-- +goose Up
-- When a verified domain's TXT record was first found missing. The domain
-- keeps routing (verified = 1) for a grace period from then, so that a
-- short DNS mistake does not take a site offline, and stops routing after
-- it until the record is back. NULL while the domain passes its checks.
ALTER TABLE domains ADD COLUMN misconfigured_since TEXT;

-- +goose Down
ALTER TABLE domains DROP COLUMN misconfigured_since;
