-- Speakers are linked to accounts by email address, never by an id a client sends: the
-- organiser gives the speaker's email, the store links the account with that address (now,
-- or when its owner first signs in), and the speaker is told by email. The address is kept
-- for the organisers and never shown publicly.

-- +goose Up
ALTER TABLE speakers ADD COLUMN email text NOT NULL DEFAULT '' CHECK (length(email) <= 254);
UPDATE speakers sp SET email = p.email FROM people p WHERE p.id = sp.person_id;
CREATE INDEX speakers_email ON speakers (lower(email)) WHERE email <> '';

-- +goose Down
DROP INDEX speakers_email;
ALTER TABLE speakers DROP COLUMN email;
