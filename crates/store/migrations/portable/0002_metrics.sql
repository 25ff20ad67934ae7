-- Raw metrics on plain PostgreSQL: declarative range partitions by day,
-- created on demand by the writer (see partitions.rs).

CREATE TABLE IF NOT EXISTS employee_metrics (
    time                   timestamptz NOT NULL,
    employee_id            text NOT NULL,
    team                   text,
    degree_centrality      double precision NOT NULL CHECK (degree_centrality BETWEEN 0 AND 1),
    betweenness_centrality double precision NOT NULL CHECK (betweenness_centrality BETWEEN 0 AND 1),
    clustering_coeff       double precision NOT NULL CHECK (clustering_coeff BETWEEN 0 AND 1),
    burnout_score          double precision NOT NULL CHECK (burnout_score BETWEEN 0 AND 100)
) PARTITION BY RANGE (time);

-- One index serves uniqueness, upserts and "employee, newest first" scans.
CREATE UNIQUE INDEX IF NOT EXISTS employee_metrics_employee_time
    ON employee_metrics (employee_id, time DESC);
CREATE INDEX IF NOT EXISTS employee_metrics_team_time
    ON employee_metrics (team, time DESC);

ALTER TABLE intervention_audit_log DROP CONSTRAINT IF EXISTS intervention_audit_log_pkey;
ALTER TABLE intervention_audit_log ADD CONSTRAINT intervention_audit_log_pkey PRIMARY KEY (seq);

-- The hourly rollup (employee_metrics_hourly) comes with migration 0003.
