-- +goose Up
-- Times are stored as RFC 3339 text in UTC, which sorts correctly.
CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'frozen')),
    created_at TEXT NOT NULL
);

-- Platform subdomains (<slug>.<base domain>) are derived from the slug and
-- are not stored: the base domain is a serve flag and may change. This table
-- holds the custom domains; only verified ones route.
CREATE TABLE domains (
    host        TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    verified    INTEGER NOT NULL DEFAULT 0,
    token       TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'verified', 'misconfigured')),
    created_at  TEXT NOT NULL,
    verified_at TEXT,
    checked_at  TEXT
);
CREATE INDEX domains_tenant ON domains (tenant_id);

-- Deleted tenants keep their file in DATA/trash/ until purged.
CREATE TABLE trash (
    file       TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    slug       TEXT NOT NULL,
    name       TEXT NOT NULL,
    deleted_at TEXT NOT NULL
);

CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    tenant_id TEXT NOT NULL DEFAULT '',
    detail    TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE trash;
DROP TABLE domains;
DROP TABLE tenants;
