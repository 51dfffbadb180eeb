-- Who actually attended: live sessions record each join and leave.

-- +goose Up
CREATE TABLE attendance (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurrence_id  bigint      NOT NULL REFERENCES occurrences (id) ON DELETE CASCADE,
    person_id      bigint      NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    joined_at      timestamptz NOT NULL,
    left_at        timestamptz,
    CHECK (left_at IS NULL OR left_at >= joined_at)
);
CREATE INDEX attendance_occurrence_person ON attendance (occurrence_id, person_id);

-- +goose Down
DROP TABLE attendance;
