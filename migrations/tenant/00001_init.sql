-- +goose Up
-- One tenant, one file: settings, content, media, accounts and messages.
-- Times are RFC 3339 text in UTC, which sorts correctly.

CREATE TABLE media (
    id           TEXT PRIMARY KEY,          -- random, so ids never repeat across tenants
    name         TEXT NOT NULL,
    alt          TEXT NOT NULL DEFAULT '',
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    width        INTEGER NOT NULL,
    height       INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    data         BLOB NOT NULL,
    created_at   TEXT NOT NULL
);

CREATE TABLE site (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    name            TEXT NOT NULL,
    tagline         TEXT NOT NULL DEFAULT '',
    about           TEXT NOT NULL DEFAULT '',   -- markdown
    address         TEXT NOT NULL DEFAULT '',
    phone           TEXT NOT NULL DEFAULT '',
    email           TEXT NOT NULL DEFAULT '',
    meeting_info    TEXT NOT NULL DEFAULT '',   -- markdown
    membership_info TEXT NOT NULL DEFAULT '',   -- markdown
    social_links    TEXT NOT NULL DEFAULT '[]', -- JSON [{"label": "...", "url": "..."}]
    accent_color    TEXT NOT NULL DEFAULT '#1f4e79',
    logo_id         TEXT REFERENCES media (id) ON DELETE SET NULL,
    timezone        TEXT NOT NULL DEFAULT 'America/New_York',
    updated_at      TEXT NOT NULL
);

CREATE TABLE pages (
    id          INTEGER PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL DEFAULT '',      -- markdown
    published   INTEGER NOT NULL DEFAULT 1,
    show_in_nav INTEGER NOT NULL DEFAULT 1,
    position    INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE posts (
    id           INTEGER PRIMARY KEY,
    slug         TEXT NOT NULL UNIQUE,
    title        TEXT NOT NULL,
    body         TEXT NOT NULL DEFAULT '',     -- markdown
    published    INTEGER NOT NULL DEFAULT 0,
    published_at TEXT,
    image_id     TEXT REFERENCES media (id) ON DELETE SET NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX posts_published ON posts (published, published_at DESC);

CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    title       TEXT NOT NULL,
    starts_at   TEXT NOT NULL,                 -- UTC
    ends_at     TEXT NOT NULL,                 -- UTC
    timezone    TEXT NOT NULL,                 -- IANA zone the event is held in
    all_day     INTEGER NOT NULL DEFAULT 0,
    location    TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',      -- markdown
    category    TEXT NOT NULL DEFAULT '',      -- meeting, fundraiser, ceremony, holiday, social
    rrule       TEXT NOT NULL DEFAULT '',      -- RFC 5545 RRULE subset, e.g. FREQ=MONTHLY;BYDAY=2TU
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX events_starts ON events (starts_at);

CREATE TABLE officers (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    position   INTEGER NOT NULL DEFAULT 0,
    email      TEXT NOT NULL DEFAULT '',
    photo_id   TEXT REFERENCES media (id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE messages (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    email      TEXT NOT NULL,
    subject    TEXT NOT NULL DEFAULT '',
    body       TEXT NOT NULL,
    ip         TEXT NOT NULL DEFAULT '',
    read       INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);

CREATE TABLE admins (
    id                  INTEGER PRIMARY KEY,
    email               TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash       TEXT NOT NULL CHECK (password_hash <> ''),
    role                TEXT NOT NULL CHECK (role IN ('owner', 'editor')),
    created_at          TEXT NOT NULL,
    password_changed_at TEXT NOT NULL
);

CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    admin_id   INTEGER NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    ip         TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_admin ON sessions (admin_id);

-- +goose Down
DROP TABLE sessions;
DROP TABLE admins;
DROP TABLE messages;
DROP TABLE officers;
DROP TABLE events;
DROP TABLE posts;
DROP TABLE pages;
DROP TABLE site;
DROP TABLE media;
