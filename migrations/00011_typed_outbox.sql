-- Typed outbox rows: a registration email is written as what happened, to whom, about what,
-- and rendered when it is delivered, in the recipient's language and zone as they are then.
-- The rendered columns hold already-rendered mail (sign-in links) and, once sent, what was
-- actually sent. Bodies of finished rows are blanked after a retention period.

-- +goose Up
ALTER TABLE outbox
    ADD COLUMN notice_kind       text        NOT NULL DEFAULT '',
    ADD COLUMN person_id         bigint,
    ADD COLUMN registration_id   bigint,
    ADD COLUMN occurrence_id     bigint,
    ADD COLUMN event_id          bigint,
    -- what must be frozen at the time (an organiser's message, the previous start, …)
    ADD COLUMN payload           jsonb       NOT NULL DEFAULT '{}',
    -- when the bodies (and payload secrets) were blanked after the retention period
    ADD COLUMN bodies_dropped_at timestamptz;

-- finished rows whose bodies are still kept, oldest first
CREATE INDEX outbox_retained ON outbox (coalesce(sent_at, next_attempt_at))
    WHERE status <> 'pending' AND bodies_dropped_at IS NULL;

-- +goose Down
DROP INDEX outbox_retained;
ALTER TABLE outbox DROP COLUMN bodies_dropped_at, DROP COLUMN payload, DROP COLUMN event_id,
    DROP COLUMN occurrence_id, DROP COLUMN registration_id, DROP COLUMN person_id, DROP COLUMN notice_kind;
