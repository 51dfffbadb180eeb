-- Speakers' photos. They are kept in PostgreSQL (bytea), not on disk: a photo is small once
-- resized (a 400-pixel JPEG, some 20-60 KB), it then belongs to the same backup and the
-- same transaction as the speaker it shows (no file left behind when a speaker or talk is
-- removed, none missing after a restore), and several servers behind one database need no
-- shared disk. A photo belongs to one occurrence; a speaker row points at it. Speakers are
-- rewritten on every save of their occurrence, so the photo is not a column of theirs.
-- A photo is never changed: a new upload is a new row, so its URL can be cached forever.

-- +goose Up
CREATE TABLE speaker_photos (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurrence_id  bigint      NOT NULL REFERENCES occurrences (id) ON DELETE CASCADE,
    jpeg           bytea       NOT NULL CHECK (octet_length(jpeg) <= 2097152),
    width          integer     NOT NULL CHECK (width BETWEEN 1 AND 400),
    height         integer     NOT NULL CHECK (height BETWEEN 1 AND 400),
    digest         text        NOT NULL,
    created_at     timestamptz NOT NULL
);
CREATE INDEX speaker_photos_occurrence ON speaker_photos (occurrence_id);
ALTER TABLE speakers ADD COLUMN photo_id bigint REFERENCES speaker_photos (id) ON DELETE SET NULL;
CREATE INDEX speakers_photo ON speakers (photo_id) WHERE photo_id IS NOT NULL;

-- +goose Down
DROP INDEX speakers_photo;
ALTER TABLE speakers DROP COLUMN photo_id;
DROP TABLE speaker_photos;
