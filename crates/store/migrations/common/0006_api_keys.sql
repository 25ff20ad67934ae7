-- API keys (issue 7). Only a SHA-256 hash of each key is stored: the key
-- itself is printed once when it is created and cannot be recovered from the
-- database. `teams` NULL means every team; a reader key with teams sees only
-- those teams' trends and employees.
CREATE TABLE IF NOT EXISTS api_keys (
    key_id     text PRIMARY KEY,
    key_hash   bytea NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
    role       text NOT NULL CHECK (role IN ('reader', 'writer', 'admin')),
    teams      text[] CHECK (teams IS NULL OR (cardinality(teams) > 0 AND role = 'reader')),
    label      text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
