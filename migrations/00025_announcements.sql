-- Announcements: what the organisers of a series or conference write to its list (its
-- followers, its registrants, or both; or the registrants of one session). An announcement
-- is sent now or scheduled (send_at); a scheduled one may be edited or cancelled until it
-- goes. Sending puts one outbox row per recipient (each person once) and marks the
-- announcement sent in one transaction. Sent ones are the list's public archive.
--
-- outbox.message_key: a random key per outbox row, written with the row, from which the
-- email's Message-ID is made; a message sent again after a crash (accepted by the SMTP server
-- but not yet marked sent) carries the same Message-ID, so it is recognisably the same.

-- +goose Up
CREATE TABLE announcements (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id       bigint      NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    -- the one session whose registrants it is for (audience registrants or both), else null
    occurrence_id  bigint      REFERENCES occurrences (id) ON DELETE CASCADE,
    author_id      bigint      REFERENCES people (id) ON DELETE SET NULL,
    subject        text        NOT NULL CHECK (subject <> ''),
    body           text        NOT NULL CHECK (body <> ''),
    audience       text        NOT NULL CHECK (audience IN ('followers', 'registrants', 'both')),
    status         text        NOT NULL CHECK (status IN ('scheduled', 'sent', 'cancelled')),
    send_at        timestamptz,
    sent_at        timestamptz,
    recipients     integer     NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    CHECK (status <> 'sent' OR sent_at IS NOT NULL),
    CHECK (status <> 'scheduled' OR send_at IS NOT NULL)
);
CREATE INDEX announcements_due ON announcements (send_at) WHERE status = 'scheduled';
CREATE INDEX announcements_archive ON announcements (event_id, sent_at DESC) WHERE status = 'sent';

ALTER TABLE outbox ADD COLUMN message_key uuid NOT NULL DEFAULT gen_random_uuid();

-- +goose Down
ALTER TABLE outbox DROP COLUMN message_key;
DROP TABLE announcements;
