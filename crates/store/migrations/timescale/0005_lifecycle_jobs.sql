-- The lifecycle jobs' last runs, shared by every service instance (health,
-- `organism maintain --status`).
CREATE TABLE IF NOT EXISTS lifecycle_jobs (
    job           text PRIMARY KEY,
    last_started  timestamptz NOT NULL,
    last_finished timestamptz NOT NULL,
    last_seconds  double precision NOT NULL,
    last_rows     bigint NOT NULL,
    last_ok       boolean NOT NULL,
    last_error    text,
    last_detail   jsonb NOT NULL DEFAULT '{}'::jsonb,
    runs          bigint NOT NULL DEFAULT 0,
    failures      bigint NOT NULL DEFAULT 0
);
