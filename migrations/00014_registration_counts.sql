-- The places taken in each session (registrations confirmed, or held for a confirmation),
-- kept by a trigger on every change to registrations, so that a registration reads one
-- row rather than counting them all while it holds the session's lock. It cannot drift:
-- each change adds or takes away its own one, in its own transaction, whatever made it
-- (the store, a cascade from a person or a session removed, or a hand-made change).

-- +goose Up
CREATE TABLE registration_counts (
    occurrence_id bigint  PRIMARY KEY REFERENCES occurrences (id) ON DELETE CASCADE,
    taken         integer NOT NULL CHECK (taken >= 0)
);
INSERT INTO registration_counts (occurrence_id, taken)
    SELECT occurrence_id, count(*) FROM registrations WHERE status IN ('confirmed', 'held') GROUP BY occurrence_id;

-- +goose StatementBegin
CREATE FUNCTION registration_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was boolean := TG_OP <> 'INSERT';
    now_taken boolean := TG_OP <> 'DELETE';
BEGIN
    IF was THEN
        was := OLD.status IN ('confirmed', 'held');
    END IF;
    IF now_taken THEN
        now_taken := NEW.status IN ('confirmed', 'held');
    END IF;
    IF was AND now_taken AND OLD.occurrence_id = NEW.occurrence_id THEN
        RETURN NULL;
    END IF;
    IF was THEN
        -- no row: the session itself is being removed
        UPDATE registration_counts SET taken = taken - 1 WHERE occurrence_id = OLD.occurrence_id;
    END IF;
    IF now_taken THEN
        INSERT INTO registration_counts AS c (occurrence_id, taken) VALUES (NEW.occurrence_id, 1)
            ON CONFLICT (occurrence_id) DO UPDATE SET taken = c.taken + 1;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER registrations_count AFTER INSERT OR DELETE OR UPDATE OF status, occurrence_id ON registrations
    FOR EACH ROW EXECUTE FUNCTION registration_counts_track();

-- +goose Down
DROP TRIGGER registrations_count ON registrations;
DROP FUNCTION registration_counts_track();
DROP TABLE registration_counts;
