-- Deleting an account keeps its registrations, anonymised, so that the organisers' counts
-- and the places taken stay right: such a row has no person and none of what the person
-- typed (name, affiliation, answers). Country and career stage, chosen from fixed lists,
-- stay for the organisers' statistics. Whole-series and conference registrations are kept
-- the same way. Rows with a person are unchanged.

-- +goose Up
ALTER TABLE registrations ALTER COLUMN person_id DROP NOT NULL;
ALTER TABLE registrations ADD CONSTRAINT registrations_anonymised_check
    CHECK (person_id IS NOT NULL OR (name = '' AND affiliation = '' AND answers = '{}' AND NOT consent_contact));
ALTER TABLE event_registrations ALTER COLUMN person_id DROP NOT NULL;

-- +goose Down
DELETE FROM event_registrations WHERE person_id IS NULL;
ALTER TABLE event_registrations ALTER COLUMN person_id SET NOT NULL;
DELETE FROM registrations WHERE person_id IS NULL;
ALTER TABLE registrations DROP CONSTRAINT registrations_anonymised_check;
ALTER TABLE registrations ALTER COLUMN person_id SET NOT NULL;
