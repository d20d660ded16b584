-- +goose Up
-- A custom domain is a claim of one tenant on a host: several tenants may
-- claim a host while none has proven it (pending), and the first to prove
-- it owns it (issue 17.8). The key becomes (host, tenant_id); a host has at
-- most one claim that is not pending (verified, or misconfigured: proven
-- once). SQLite cannot change a primary key, so the table is rebuilt.
CREATE TABLE domain_claims (
    host                TEXT NOT NULL,
    tenant_id           TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    verified            INTEGER NOT NULL DEFAULT 0,
    token               TEXT NOT NULL,
    status              TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'verified', 'misconfigured')),
    created_at          TEXT NOT NULL,
    verified_at         TEXT,
    checked_at          TEXT,
    misconfigured_since TEXT,
    PRIMARY KEY (host, tenant_id)
);
INSERT INTO domain_claims (host, tenant_id, verified, token, status, created_at, verified_at, checked_at, misconfigured_since)
    SELECT host, tenant_id, verified, token, status, created_at, verified_at, checked_at, misconfigured_since FROM domains;
DROP TABLE domains;
ALTER TABLE domain_claims RENAME TO domains;
CREATE INDEX domains_tenant ON domains (tenant_id);
CREATE UNIQUE INDEX domains_owner ON domains (host) WHERE status <> 'pending';

-- +goose Down
-- Back to one row per host: the owner's claim, else the oldest pending one.
CREATE TABLE domain_hosts (
    host                TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    verified            INTEGER NOT NULL DEFAULT 0,
    token               TEXT NOT NULL,
    status              TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'verified', 'misconfigured')),
    created_at          TEXT NOT NULL,
    verified_at         TEXT,
    checked_at          TEXT,
    misconfigured_since TEXT
);
INSERT OR IGNORE INTO domain_hosts (host, tenant_id, verified, token, status, created_at, verified_at, checked_at, misconfigured_since)
    SELECT host, tenant_id, verified, token, status, created_at, verified_at, checked_at, misconfigured_since FROM domains
    ORDER BY status = 'pending', created_at;
DROP TABLE domains;
ALTER TABLE domain_hosts RENAME TO domains;
CREATE INDEX domains_tenant ON domains (tenant_id);
