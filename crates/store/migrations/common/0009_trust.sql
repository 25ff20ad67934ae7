-- Version 9 on both engines: the manager role and the secret its noise is
-- drawn from (issue 13, DESIGN.md §11).

-- A manager key sees the aggregates of its own teams only, so it always
-- carries teams; writers and admins never do.
-- Version 6 declared two checks: on role (api_keys_role_check) and on teams
-- with role (named api_keys_check, as it spans two columns).
ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS api_keys_role_check;
ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS api_keys_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check
    CHECK (role IN ('reader', 'writer', 'manager', 'admin'));
ALTER TABLE api_keys ADD CONSTRAINT api_keys_teams_check
    CHECK (CASE role
               WHEN 'reader' THEN teams IS NULL OR cardinality(teams) > 0
               WHEN 'manager' THEN teams IS NOT NULL AND cardinality(teams) > 0
               ELSE teams IS NULL
           END);

-- The secret of the differential-privacy noise (crates/domain/src/privacy.rs).
-- One per database, so that every replica draws the same noise for the same
-- data (asking another replica averages nothing away). gen_random_uuid()
-- comes from the server's strong random source; two of them give 244
-- random bits.
CREATE TABLE IF NOT EXISTS privacy_secret (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    secret   bytea NOT NULL CHECK (octet_length(secret) >= 16)
);
INSERT INTO privacy_secret (secret)
VALUES (decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'))
ON CONFLICT (only_row) DO NOTHING;
