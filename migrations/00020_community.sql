-- The community (mailing lists, follows of topics, digests): what several parts share.
--   topic_follows     a person follows a topic tag (as events are tagged), without
--                     registering for anything;
--   people.weekly_digest   opt-in to the weekly digest;
--   list_optouts      a person left a list (one-click unsubscribe, or the preferences page);
--   list_tokens       the unsubscribe links in list emails: random, stored as a hash, each
--                     for one person and one list, expiring;
--   mail_suppressions addresses that bounced or complained (recorded by an admin command):
--                     no more mail to them, sign-in links apart;
--   outbox.list_id    the list a notice belongs to ('' for a transactional email);
--   outbox.headers    the list headers sent with it (List-Id, List-Unsubscribe, …), kept
--                     so the local mailbox can show them.

-- +goose Up
CREATE TABLE topic_follows (
    person_id   bigint      NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    tag         text        NOT NULL CHECK (tag <> '' AND tag = lower(tag) AND length(tag) <= 100),
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (person_id, tag)
);
CREATE INDEX topic_follows_tag ON topic_follows (tag);

ALTER TABLE people ADD COLUMN weekly_digest boolean NOT NULL DEFAULT false;

CREATE TABLE list_optouts (
    person_id   bigint      NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    list_id     text        NOT NULL CHECK (list_id <> ''),
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (person_id, list_id)
);

CREATE TABLE list_tokens (
    hash        bytea       PRIMARY KEY,
    person_id   bigint      NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    list_id     text        NOT NULL CHECK (list_id <> ''),
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX list_tokens_expiry ON list_tokens (expires_at);

CREATE TABLE mail_suppressions (
    email       text        PRIMARY KEY CHECK (email = lower(email)),
    reason      text        NOT NULL CHECK (reason IN ('bounce', 'complaint')),
    detail      text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL
);

ALTER TABLE outbox
    ADD COLUMN list_id text  NOT NULL DEFAULT '',
    ADD COLUMN headers jsonb NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE outbox DROP COLUMN headers, DROP COLUMN list_id;
DROP TABLE mail_suppressions;
DROP TABLE list_tokens;
DROP TABLE list_optouts;
ALTER TABLE people DROP COLUMN weekly_digest;
DROP TABLE topic_follows;
