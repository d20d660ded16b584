-- +goose Up
-- Members: people of the chapter who are not admins. They log in by magic
-- link on the chapter's own host and may see what is kept for members.

-- What a visitor may see of each post, page and event: everyone, or only
-- the chapter's signed-in members.
ALTER TABLE posts  ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'members'));
ALTER TABLE pages  ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'members'));
ALTER TABLE events ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'members'));

CREATE TABLE members (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name          TEXT NOT NULL,
    phone         TEXT NOT NULL DEFAULT '',
    address       TEXT NOT NULL DEFAULT '',
    qualification TEXT NOT NULL DEFAULT '',          -- how they qualify, from the application
    status        TEXT NOT NULL DEFAULT 'active'
                  CHECK (status IN ('invited', 'active', 'lapsed', 'resigned')),
    renewal_date  TEXT NOT NULL DEFAULT '',          -- YYYY-MM-DD, '' for none
    reminded_for  TEXT NOT NULL DEFAULT '',          -- the renewal_date last reminded of
    -- The member directory: whether they are listed, and what it shows.
    dir_listed    INTEGER NOT NULL DEFAULT 0,
    dir_email     INTEGER NOT NULL DEFAULT 0,
    dir_phone     INTEGER NOT NULL DEFAULT 0,
    dir_address   INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX members_renewal ON members (renewal_date);

CREATE TABLE member_applications (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    email         TEXT NOT NULL,
    phone         TEXT NOT NULL DEFAULT '',
    address       TEXT NOT NULL DEFAULT '',
    qualification TEXT NOT NULL DEFAULT '',
    ip            TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL
);

-- Magic links: only the sha256 of a link's token is kept, so a copy of the
-- file cannot log anyone in. A link works once, until expires_at.
CREATE TABLE member_tokens (
    hash       TEXT PRIMARY KEY,
    member_id  INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('login', 'invite')),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX member_tokens_member ON member_tokens (member_id);

-- A member's browser session: the sha256 of the cookie's value.
CREATE TABLE member_sessions (
    hash       TEXT PRIMARY KEY,
    member_id  INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX member_sessions_member ON member_sessions (member_id);

-- +goose Down
DROP TABLE member_sessions;
DROP TABLE member_tokens;
DROP TABLE member_applications;
DROP TABLE members;
ALTER TABLE events DROP COLUMN visibility;
ALTER TABLE pages DROP COLUMN visibility;
ALTER TABLE posts DROP COLUMN visibility;
