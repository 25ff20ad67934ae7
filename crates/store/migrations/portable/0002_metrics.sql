-- Raw metrics on plain PostgreSQL: declarative range partitions by day,
-- created on demand by the writer (see partitions.rs) and ahead of time by
-- the scheduler.

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

-- The hourly rollup, computed from raw rows at query time. (The lifecycle
-- work replaces this view with a materialised table plus real-time part.)
CREATE OR REPLACE VIEW employee_metrics_hourly AS
SELECT date_trunc('hour', time) AS bucket,
       employee_id,
       (array_agg(team ORDER BY time DESC))[1] AS team,
       count(*) AS samples,
       sum(degree_centrality) AS degree_centrality_sum,
       sum(degree_centrality * degree_centrality) AS degree_centrality_sumsq,
       min(degree_centrality) AS degree_centrality_min,
       max(degree_centrality) AS degree_centrality_max,
       sum(betweenness_centrality) AS betweenness_centrality_sum,
       sum(betweenness_centrality * betweenness_centrality) AS betweenness_centrality_sumsq,
       min(betweenness_centrality) AS betweenness_centrality_min,
       max(betweenness_centrality) AS betweenness_centrality_max,
       sum(clustering_coeff) AS clustering_coeff_sum,
       sum(clustering_coeff * clustering_coeff) AS clustering_coeff_sumsq,
       min(clustering_coeff) AS clustering_coeff_min,
       max(clustering_coeff) AS clustering_coeff_max,
       sum(burnout_score) AS burnout_score_sum,
       sum(burnout_score * burnout_score) AS burnout_score_sumsq,
       min(burnout_score) AS burnout_score_min,
       max(burnout_score) AS burnout_score_max
FROM employee_metrics
GROUP BY 1, 2;
