-- +goose Up
-- Event RSVPs, officers' terms, the site's announcement banner and visit
-- statistics (issue 15). Dates without a time are YYYY-MM-DD text.

ALTER TABLE events ADD COLUMN rsvp INTEGER NOT NULL DEFAULT 0;      -- takes RSVPs
ALTER TABLE events ADD COLUMN capacity INTEGER NOT NULL DEFAULT 0;  -- people per date; 0: no limit

-- One RSVP to one date of an event: for a recurring event, occurrence is
-- the start (UTC) of the date answered; for a one-off, the event's start.
CREATE TABLE rsvps (
    id          INTEGER PRIMARY KEY,
    event_id    INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    occurrence  TEXT NOT NULL,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL,
    party_size  INTEGER NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL CHECK (status IN ('going', 'waitlist', 'cancelled')),
    -- sha256 of the form's one-time token, which is also the secret of
    -- the attendee's own link: a second submit of the form finds this row.
    token       TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX rsvps_event ON rsvps (event_id, occurrence, status, id);
-- One live RSVP per address and date.
CREATE UNIQUE INDEX rsvps_email ON rsvps (event_id, occurrence, email COLLATE NOCASE) WHERE status <> 'cancelled';

ALTER TABLE officers ADD COLUMN term_from TEXT NOT NULL DEFAULT '';  -- first day in office, '' unknown
ALTER TABLE officers ADD COLUMN term_to TEXT NOT NULL DEFAULT '';    -- last day in office, '' open

ALTER TABLE site ADD COLUMN officers_change TEXT NOT NULL DEFAULT ''; -- MM-DD of the yearly changeover, '' none
ALTER TABLE site ADD COLUMN banner TEXT NOT NULL DEFAULT '';          -- announcement on every page, '' none
ALTER TABLE site ADD COLUMN banner_until TEXT NOT NULL DEFAULT '';    -- UTC instant the banner ends, '' never

-- Page views and unique visitors a day (UTC) and page; path '' is the
-- whole site. Counted in memory and written in batches.
CREATE TABLE stats_daily (
    day      TEXT NOT NULL,
    path     TEXT NOT NULL,
    views    INTEGER NOT NULL DEFAULT 0,
    visitors INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, path)
) WITHOUT ROWID;

-- The visitors seen on a day and page: a hash of address and user agent
-- under a salt that lives only in the server's memory and changes every
-- day, so that a visitor counts once a day. Rows of past days are deleted.
CREATE TABLE stats_seen (
    day     TEXT NOT NULL,
    path    TEXT NOT NULL,
    visitor TEXT NOT NULL,
    PRIMARY KEY (day, path, visitor)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE stats_seen;
DROP TABLE stats_daily;
ALTER TABLE site DROP COLUMN banner_until;
ALTER TABLE site DROP COLUMN banner;
ALTER TABLE site DROP COLUMN officers_change;
ALTER TABLE officers DROP COLUMN term_to;
ALTER TABLE officers DROP COLUMN term_from;
DROP TABLE rsvps;
ALTER TABLE events DROP COLUMN capacity;
ALTER TABLE events DROP COLUMN rsvp;
