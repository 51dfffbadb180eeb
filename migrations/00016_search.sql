-- Accent- and case-insensitive search: puente_fold(text) is the form both a search term
-- and the text searched are compared in ("María", "MARÍA" and "maria" all fold to "maria";
-- "São" to "sao"; "Łódź" to "lodz").
--
-- Why not the unaccent extension: it is in contrib, which the system PostgreSQL 15 here has
-- and the embedded-postgres (zonky) builds include, but distributions package separately
-- (postgresqlNN-contrib on RPM systems, where pgserver also looks for binaries), and a
-- DATABASE_URL server may not offer it or let the application create it. unaccent() is also
-- only STABLE (it reads a dictionary), so it could never back an index or a generated column
-- without a wrapper that lies about it. translate() and replace() are core and immutable,
-- so the same migration works on every server Puente starts or is given.
--
-- The table maps every precomposed Latin letter of U+00C0..U+024F that is an ASCII letter
-- plus marks (from Unicode's decompositions), and the few with none (Đ, Ł, Ø, Ħ, ı, Ŧ), to
-- the lower-case ASCII letter; combining marks U+0300..U+036F are deleted, so text typed
-- decomposed ("a" + U+0301) folds the same; ß, æ and œ become ss, ae and oe. lower() then
-- folds ASCII case (and other scripts' case where the database's collation knows them);
-- both sides of every comparison are folded in the same database, so they always agree.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION puente_fold(s text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT lower(replace(replace(replace(replace(replace(translate(s,
        'ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝàáâãäåçèéêëìíîïðñòóôõöøùúûüýÿĀāĂăĄąĆćĈĉĊċČčĎďĐđĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĦħĨĩĪīĬĭĮįİıĴĵĶķĸĹĺĻļĽľĿŀŁłŃńŅņŇňŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŦŧŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžƠơƯưǍǎǏǐǑǒǓǔǕǖǗǘǙǚǛǜǞǟǠǡǦǧǨǩǪǫǬǭǰǴǵǸǹǺǻȀȁȂȃȄȅȆȇȈȉȊȋȌȍȎȏȐȑȒȓȔȕȖȗȘșȚțȞȟȦȧȨȩȪȫȬȭȮȯȰȱȲȳ' || U&'\0300\0301\0302\0303\0304\0305\0306\0307\0308\0309\030A\030B\030C\030D\030E\030F\0310\0311\0312\0313\0314\0315\0316\0317\0318\0319\031A\031B\031C\031D\031E\031F\0320\0321\0322\0323\0324\0325\0326\0327\0328\0329\032A\032B\032C\032D\032E\032F\0330\0331\0332\0333\0334\0335\0336\0337\0338\0339\033A\033B\033C\033D\033E\033F\0340\0341\0342\0343\0344\0345\0346\0347\0348\0349\034A\034B\034C\034D\034E\034F\0350\0351\0352\0353\0354\0355\0356\0357\0358\0359\035A\035B\035C\035D\035E\035F\0360\0361\0362\0363\0364\0365\0366\0367\0368\0369\036A\036B\036C\036D\036E\036F',
        'aaaaaaceeeeiiiidnoooooouuuuyaaaaaaceeeeiiiidnoooooouuuuyyaaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiiijjkkkllllllllllnnnnnnoooooorrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzoouuaaiioouuuuuuuuuuaaaaggkkoooojggnnaaaaaaeeeeiiiioooorrrruuuusstthhaaeeooooooooyy'),
        'ß', 'ss'), 'Æ', 'ae'), 'æ', 'ae'), 'Œ', 'oe'), 'œ', 'oe'))
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION puente_fold(text);
