-- People, sign-in, sessions, API tokens and the mail outbox: the foundation.

-- +goose Up
CREATE TABLE people (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text        NOT NULL CHECK (email <> '' AND length(email) <= 254),
    name          text        NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    affiliation   text        NOT NULL DEFAULT '' CHECK (length(affiliation) <= 200),
    country       text        NOT NULL DEFAULT '' CHECK (country = '' OR country ~ '^[A-Z]{2}$'),
    career_stage  text        NOT NULL DEFAULT ''
                  CHECK (career_stage IN ('', 'student', 'early_career', 'senior', 'industry', 'other')),
    language      text        NOT NULL DEFAULT '' CHECK (length(language) <= 10),
    time_zone     text        NOT NULL DEFAULT '' CHECK (length(time_zone) <= 64),
    is_admin      boolean     NOT NULL DEFAULT false,
    is_organiser  boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX people_email_key ON people (lower(email));

-- One-time sign-in links. Only a SHA-256 hash of the secret is stored.
CREATE TABLE sign_in_links (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash  bytea       NOT NULL UNIQUE,
    email       text        NOT NULL,
    next_path   text        NOT NULL DEFAULT '/',
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX sign_in_links_email_created ON sign_in_links (lower(email), created_at);

-- Browser sessions (cookie holds the secret, the table its hash).
CREATE TABLE sessions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash    bytea       NOT NULL UNIQUE,
    person_id     bigint      NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_person ON sessions (person_id);

-- Personal API tokens for "Authorization: Bearer ...".
CREATE TABLE api_tokens (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id     bigint      NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    name          text        NOT NULL CHECK (length(name) <= 100),
    token_hash    bytea       NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_tokens_person ON api_tokens (person_id);

-- Every email is written here in the same transaction as the action that causes it,
-- then delivered by the sender with retries.
CREATE TABLE outbox (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind             text        NOT NULL,
    to_address       text        NOT NULL,
    subject          text        NOT NULL,
    text_body        text        NOT NULL,
    html_body        text        NOT NULL DEFAULT '',
    -- sensitive bodies (sign-in links) are blanked once delivered or discarded
    sensitive        boolean     NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    -- a message not delivered by then is no use any more (an expired sign-in link)
    discard_after    timestamptz,
    status           text        NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sent', 'failed', 'discarded')),
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    last_error       text        NOT NULL DEFAULT ''
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending';

-- +goose Down
DROP TABLE outbox;
DROP TABLE api_tokens;
DROP TABLE sessions;
DROP TABLE sign_in_links;
DROP TABLE people;
