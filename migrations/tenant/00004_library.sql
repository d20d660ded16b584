-- +goose Up
-- The document library, photo sizes, albums and the home page's hero image.

-- Smaller copies of an image, made at upload so that a phone loads a
-- small file: 'small' (320 px wide), 'medium' (800) and 'large' (1600),
-- each only when the original is wider. Same rules as media's bytes.
CREATE TABLE media_variants (
    media_id     TEXT NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    variant      TEXT NOT NULL CHECK (variant IN ('small', 'medium', 'large')),
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    width        INTEGER NOT NULL,
    height       INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    data         BLOB NOT NULL,
    PRIMARY KEY (media_id, variant)
);

-- Minutes, bylaws, newsletters and forms: PDF and office files, checked
-- by their content, served only as downloads.
CREATE TABLE documents (
    id           TEXT PRIMARY KEY,          -- random, like media ids
    title        TEXT NOT NULL,
    category     TEXT NOT NULL CHECK (category IN ('minutes', 'bylaws', 'newsletters', 'forms', 'other')),
    dated        TEXT NOT NULL,             -- YYYY-MM-DD: the meeting, issue or adoption the file is of
    description  TEXT NOT NULL DEFAULT '',
    filename     TEXT NOT NULL,             -- the name a download is saved under
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    visibility   TEXT NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'members')),
    data         BLOB NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX documents_category ON documents (category, dated DESC);

CREATE TABLE albums (
    id          INTEGER PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    title       TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',  -- markdown
    dated       TEXT NOT NULL,             -- YYYY-MM-DD, what the album is of
    cover_id    TEXT REFERENCES media (id) ON DELETE SET NULL,
    published   INTEGER NOT NULL DEFAULT 1,
    visibility  TEXT NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'members')),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX albums_dated ON albums (published, dated DESC);

CREATE TABLE album_photos (
    album_id INTEGER NOT NULL REFERENCES albums (id) ON DELETE CASCADE,
    media_id TEXT NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    position INTEGER NOT NULL DEFAULT 0,
    caption  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (album_id, media_id)
);
CREATE INDEX album_photos_media ON album_photos (media_id);

ALTER TABLE site ADD COLUMN hero_id TEXT REFERENCES media (id) ON DELETE SET NULL;

-- +goose Down
ALTER TABLE site DROP COLUMN hero_id;
DROP TABLE album_photos;
DROP TABLE albums;
DROP TABLE documents;
DROP TABLE media_variants;
