-- Cancelling instead of deleting, and places held for registrations made by email.
--
-- A series or conference that has had registrations is never deleted: it is cancelled
-- (cancelled_at), its future occurrences are cancelled and their registrants told, and its
-- history (registrations, attendance, chat, questions) stays.
--
-- A registration made by email, without signing in, holds its place ('held', counted
-- against capacity) until the owner of the address confirms it from the email, at the
-- latest at confirm_by; after that it is released and the waitlist moves up. A
-- waitlisted registration made by email carries confirm_by too and is released the same
-- way if never confirmed.

-- +goose Up
ALTER TABLE events ADD COLUMN cancelled_at timestamptz;

ALTER TABLE registrations DROP CONSTRAINT registrations_status_check;
ALTER TABLE registrations ADD CONSTRAINT registrations_status_check
    CHECK (status IN ('confirmed', 'held', 'waitlisted', 'pending', 'declined', 'cancelled'));
ALTER TABLE registrations ADD COLUMN confirm_by timestamptz;
ALTER TABLE registrations ADD CONSTRAINT registrations_held_check CHECK (status <> 'held' OR confirm_by IS NOT NULL);
CREATE INDEX registrations_unconfirmed ON registrations (confirm_by) WHERE confirm_by IS NOT NULL;

-- +goose Down
DROP INDEX registrations_unconfirmed;
ALTER TABLE registrations DROP CONSTRAINT registrations_held_check;
ALTER TABLE registrations DROP COLUMN confirm_by;
UPDATE registrations SET status = 'cancelled' WHERE status = 'held';
ALTER TABLE registrations DROP CONSTRAINT registrations_status_check;
ALTER TABLE registrations ADD CONSTRAINT registrations_status_check
    CHECK (status IN ('confirmed', 'waitlisted', 'pending', 'declined', 'cancelled'));
ALTER TABLE events DROP COLUMN cancelled_at;
