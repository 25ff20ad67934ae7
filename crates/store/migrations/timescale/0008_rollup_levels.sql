-- Two coarser rollups (issue 6): the statistics endpoint reads one row per
-- hour for the whole organisation instead of one per employee-hour, and a
-- team's daily trend one row per member-day instead of one per member-hour.
-- Both are real-time continuous aggregates, refreshed right after the hourly
-- one (rollup.rs), each only over complete buckets:
--   * metrics_hourly_org aggregates the raw hypertable: TimescaleDB refuses
--     a continuous aggregate on another one with the same bucket width;
--   * employee_team_daily is hierarchical, on the hourly aggregate
--     (TimescaleDB 2.9 and later).

CREATE MATERIALIZED VIEW IF NOT EXISTS metrics_hourly_org
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 hour', time) AS bucket,
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
GROUP BY 1
WITH NO DATA;

-- One row per (UTC day, employee, team): an employee who changed teams
-- during a day has a row for each team, with the hours it spent in it.
CREATE MATERIALIZED VIEW IF NOT EXISTS employee_team_daily
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 day', bucket) AS bucket,
       employee_id,
       team,
       sum(samples)::bigint AS samples,
       sum(degree_centrality_sum) AS degree_centrality_sum,
       sum(betweenness_centrality_sum) AS betweenness_centrality_sum,
       sum(clustering_coeff_sum) AS clustering_coeff_sum,
       sum(burnout_score_sum) AS burnout_score_sum,
       max(burnout_score_max) AS burnout_score_max
FROM employee_metrics_hourly
GROUP BY 1, 2, 3
WITH NO DATA;
CREATE INDEX IF NOT EXISTS employee_team_daily_team ON employee_team_daily (team, bucket);

SELECT add_continuous_aggregate_policy('metrics_hourly_org',
    start_offset => NULL,
    end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '1 hour',
    if_not_exists => true);
SELECT add_continuous_aggregate_policy('employee_team_daily',
    start_offset => NULL,
    end_offset => INTERVAL '1 day',
    schedule_interval => INTERVAL '1 hour',
    if_not_exists => true);
