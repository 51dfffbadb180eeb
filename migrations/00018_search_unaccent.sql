-- Accent folding by PostgreSQL's unaccent extension where the server offers it: it knows
-- every accented letter Unicode has (Vietnamese "Nguyễn", ligatures such as "ﬁ", and the
-- rest of Latin Extended Additional), where the table of migration 00016 stops at U+024F.
--
-- The table stays, renamed puente_fold_table, for two jobs: servers without the extension
-- (contrib not installed, or a DATABASE_URL role that may not create it: unaccent is a
-- trusted extension, so a database owner can) fold with it alone; and on top of unaccent it
-- removes combining marks (an accent typed as a separate character), which unaccent's
-- rules leave in place. unaccent() is only STABLE (its dictionary can change), so
-- puente_fold, IMMUTABLE as before, calls it with its dictionary named: the usual wrapper.
-- Nothing is indexed on puente_fold, so redefining it rebuilds nothing.

-- +goose Up
-- +goose StatementBegin
ALTER FUNCTION puente_fold(text) RENAME TO puente_fold_table;
-- +goose StatementEnd

-- +goose StatementBegin
DO $do$
DECLARE
    ext_schema text;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'unaccent') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS unaccent;
        EXCEPTION WHEN insufficient_privilege OR feature_not_supported OR undefined_file THEN
            RAISE NOTICE 'unaccent could not be created (%); accents are folded by the built-in table', SQLERRM;
        END;
    END IF;
    SELECT n.nspname INTO ext_schema
        FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'unaccent';
    IF ext_schema IS NOT NULL THEN
        EXECUTE format(
            'CREATE FUNCTION puente_fold(s text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE '
            'AS $f$ SELECT puente_fold_table(%I.unaccent(%L::regdictionary, s)) $f$',
            ext_schema, ext_schema || '.unaccent');
    ELSE
        CREATE FUNCTION puente_fold(s text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
            AS $f$ SELECT puente_fold_table(s) $f$;
    END IF;
END
$do$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP FUNCTION puente_fold(text);
-- +goose StatementEnd
-- +goose StatementBegin
ALTER FUNCTION puente_fold_table(text) RENAME TO puente_fold;
-- +goose StatementEnd
