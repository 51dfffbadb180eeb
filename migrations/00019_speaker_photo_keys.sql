-- A speaker photo is served at a URL with an unguessable key, not at its sequential id:
-- a photo may belong to an unlisted event (shared by link only) or to a draft, and
-- walking /speaker-photos/1, /2, … must not reveal who speaks at it. The key is random
-- (128 bits, made by the server on upload); existing photos get one from PostgreSQL's own
-- strong random source.

-- +goose Up
ALTER TABLE speaker_photos ADD COLUMN key text;
UPDATE speaker_photos SET key = replace(gen_random_uuid()::text, '-', '');
ALTER TABLE speaker_photos ALTER COLUMN key SET NOT NULL;
CREATE UNIQUE INDEX speaker_photos_key ON speaker_photos (key);

-- +goose Down
DROP INDEX speaker_photos_key;
ALTER TABLE speaker_photos DROP COLUMN key;
