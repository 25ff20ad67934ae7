-- Raw metrics as a TimescaleDB hypertable with 1-day chunks, the audit log as
-- a hypertable (so that old chunks can be compressed), and the hourly
-- continuous aggregate with real-time aggregation.

CREATE TABLE IF NOT EXISTS employee_metrics (
    time                   timestamptz NOT NULL,
    employee_id            text NOT NULL,
    team                   text,
    degree_centrality      double precision NOT NULL CHECK (degree_centrality BETWEEN 0 AND 1),
    betweenness_centrality double precision NOT NULL CHECK (betweenness_centrality BETWEEN 0 AND 1),
    clustering_coeff       double precision NOT NULL CHECK (clustering_coeff BETWEEN 0 AND 1),
    burnout_score          double precision NOT NULL CHECK (burnout_score BETWEEN 0 AND 100)
);
SELECT create_hypertable('employee_metrics', 'time',
    chunk_time_interval => INTERVAL '1 day', if_not_exists => true, create_default_indexes => false);
CREATE UNIQUE INDEX IF NOT EXISTS employee_metrics_employee_time
    ON employee_metrics (employee_id, time DESC);
CREATE INDEX IF NOT EXISTS employee_metrics_team_time
    ON employee_metrics (team, time DESC);

SELECT create_hypertable('intervention_audit_log', 'time',
    chunk_time_interval => INTERVAL '30 days', if_not_exists => true, create_default_indexes => false);
CREATE UNIQUE INDEX IF NOT EXISTS intervention_audit_log_seq ON intervention_audit_log (seq, time);

-- Since TimescaleDB 2.13 new continuous aggregates are materialised-only
-- unless told otherwise: real-time aggregation is asked for explicitly.
CREATE MATERIALIZED VIEW IF NOT EXISTS employee_metrics_hourly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 hour', time) AS bucket,
       employee_id,
       last(team, time) AS team,
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
GROUP BY bucket, employee_id
WITH NO DATA;
CREATE INDEX IF NOT EXISTS employee_metrics_hourly_team ON employee_metrics_hourly (team, bucket DESC);
