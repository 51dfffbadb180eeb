-- Personal calendar feeds: the feed URL carries a token signed over the person and this
-- nonce; regenerating the URL bumps the nonce, and the old URL stops working at once.

-- +goose Up
ALTER TABLE people ADD COLUMN feed_nonce bigint NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE people DROP COLUMN feed_nonce;
