-- The member directory and its contact relay.
--   directory_entries   a person's entry: whether they are listed, which fields it shows
--                       (visible), their research topics, what they are looking for, a short
--                       bio and links; the name, affiliation, country and career stage are
--                       the profile's (people). One row per person who ever saved one.
--   directory_contacts  one row per message sent through the directory (who wrote to whom,
--                       when): the per-sender limits are counted here, so they hold across
--                       restarts and servers. The message itself is only in the outbox.
-- Both go with either person (ON DELETE CASCADE).

-- +goose Up
CREATE TABLE directory_entries (
    person_id    bigint      PRIMARY KEY REFERENCES people (id) ON DELETE CASCADE,
    listed       boolean     NOT NULL DEFAULT false,
    visible      text[]      NOT NULL DEFAULT '{}'
                 CHECK (visible <@ ARRAY['name', 'affiliation', 'country', 'career_stage', 'topics',
                                         'looking_for', 'bio', 'links']::text[]),
    topics       text[]      NOT NULL DEFAULT '{}' CHECK (cardinality(topics) <= 10),
    looking_for  text[]      NOT NULL DEFAULT '{}'
                 CHECK (looking_for <@ ARRAY['collaboration', 'exchange_visit', 'phd_position',
                                             'postdoc_position', 'supervision']::text[]),
    bio          text        NOT NULL DEFAULT '' CHECK (length(bio) <= 1000),
    orcid        text        NOT NULL DEFAULT '' CHECK (orcid = '' OR orcid ~ '^[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{3}[0-9X]$'),
    website      text        NOT NULL DEFAULT '' CHECK (length(website) <= 300),
    updated_at   timestamptz NOT NULL
);
CREATE INDEX directory_entries_listed ON directory_entries (person_id) WHERE listed;

CREATE TABLE directory_contacts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sender_id     bigint      NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    recipient_id  bigint      NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL
);
CREATE INDEX directory_contacts_sender ON directory_contacts (sender_id, created_at);
CREATE INDEX directory_contacts_recipient ON directory_contacts (recipient_id);

-- +goose Down
DROP TABLE directory_contacts;
DROP TABLE directory_entries;
