-- +goose Up
-- Outgoing mail (docs/email.md). A mail is queued in the transaction of the
-- change that causes it and sent by the mail worker; a row is kept after
-- sending so the owner sees what went out and what failed.

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,                 -- contact, password_reset, admin_invite, ...
    to_addr         TEXT NOT NULL,                 -- one bare address
    reply_to        TEXT NOT NULL DEFAULT '',      -- bare address; '' means the chapter's own
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT NOT NULL DEFAULT '',
    message_id      TEXT NOT NULL UNIQUE,          -- the Message-ID of every attempt, so a resend is the same mail
    created_at      TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,    -- counted before each attempt is made
    next_attempt_at TEXT NOT NULL,
    sent_at         TEXT,
    last_error      TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'sending', 'sent', 'failed'))
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_sent ON outbox (sent_at);

-- Single-use tokens sent by mail (password reset, invitations). Only the
-- sha256 of a token is stored: the token itself is in the link of the mail.
CREATE TABLE mail_tokens (
    id         INTEGER PRIMARY KEY,
    purpose    TEXT NOT NULL,                      -- password_reset, admin_invite, ...
    token_hash TEXT NOT NULL UNIQUE,               -- hex sha256 of the token
    email      TEXT NOT NULL,
    admin_id   INTEGER REFERENCES admins (id) ON DELETE CASCADE,
    role       TEXT NOT NULL DEFAULT '',           -- an invitation's role
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
);
CREATE INDEX mail_tokens_email ON mail_tokens (email);

-- Admins who want a mail for each new contact message.
ALTER TABLE admins ADD COLUMN notify_messages INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE admins DROP COLUMN notify_messages;
DROP TABLE mail_tokens;
DROP TABLE outbox;
