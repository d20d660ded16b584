-- +goose Up
-- A tenant's own storage quota in bytes, set with `tenant set SLUG --quota`;
-- 0 is unlimited. NULL: the server's default (serve --quota).
ALTER TABLE tenants ADD COLUMN quota_bytes INTEGER CHECK (quota_bytes IS NULL OR quota_bytes >= 0);

-- +goose Down
ALTER TABLE tenants DROP COLUMN quota_bytes;
