-- Organisers' own registration questions per series, and the answers.

-- +goose Up
ALTER TABLE events ADD COLUMN questions jsonb NOT NULL DEFAULT '[]';
ALTER TABLE registrations ADD COLUMN answers jsonb NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE registrations DROP COLUMN answers;
ALTER TABLE events DROP COLUMN questions;
