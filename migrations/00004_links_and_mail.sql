-- Signed personal links (join, one-click cancel), email attachments, reminders, and the
-- series' reminder settings.

-- +goose Up
-- Server-wide secrets, made once at first start (the key that signs personal links).
CREATE TABLE secrets (
    name        text PRIMARY KEY,
    value       bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A personal link carries the registration id, its nonce and an HMAC; changing the nonce
-- revokes every link given out for that registration.
ALTER TABLE registrations ADD COLUMN link_nonce bigint NOT NULL DEFAULT 0;

-- Calendar attachment (.ics) of an email, if any.
ALTER TABLE outbox ADD COLUMN ics text NOT NULL DEFAULT '';

-- Reminders before each occurrence, in minutes before the start (24 h and 1 h by default).
ALTER TABLE events ADD COLUMN reminder_minutes integer[] NOT NULL DEFAULT '{1440,60}';

CREATE TABLE reminders_sent (
    registration_id  bigint  NOT NULL REFERENCES registrations (id) ON DELETE CASCADE,
    minutes_before   integer NOT NULL,
    sent_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (registration_id, minutes_before)
);

-- +goose Down
DROP TABLE reminders_sent;
ALTER TABLE events DROP COLUMN reminder_minutes;
ALTER TABLE outbox DROP COLUMN ics;
ALTER TABLE registrations DROP COLUMN link_nonce;
DROP TABLE secrets;
