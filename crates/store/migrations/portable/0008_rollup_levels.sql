-- Two coarser rollups derived from the hourly one (issue 6): the statistics
-- endpoint reads one row per hour for the whole organisation instead of one
-- per employee-hour, and a team's daily trend reads one row per member-day
-- instead of one per member-hour.
--
-- Both follow the hourly rollup's watermark (rollup_state) and its
-- invalidations, and the refresh (rollup.rs) fills them in the same
-- transaction as the hours they come from:
--   * metrics_hourly_org_store holds the hours before the watermark;
--   * employee_team_daily_store holds the whole UTC days before the day of
--     the watermark.
-- Their views, which the queries read, add what is not materialised from
-- the real-time hourly parts, exactly as employee_metrics_hourly does, so a
-- sample written a second ago counts.

CREATE TABLE IF NOT EXISTS metrics_hourly_org_store (
    bucket      timestamptz PRIMARY KEY,
    samples     bigint NOT NULL,
    degree_centrality_sum double precision NOT NULL,
    degree_centrality_sumsq double precision NOT NULL,
    degree_centrality_min double precision NOT NULL,
    degree_centrality_max double precision NOT NULL,
    betweenness_centrality_sum double precision NOT NULL,
    betweenness_centrality_sumsq double precision NOT NULL,
    betweenness_centrality_min double precision NOT NULL,
    betweenness_centrality_max double precision NOT NULL,
    clustering_coeff_sum double precision NOT NULL,
    clustering_coeff_sumsq double precision NOT NULL,
    clustering_coeff_min double precision NOT NULL,
    clustering_coeff_max double precision NOT NULL,
    burnout_score_sum double precision NOT NULL,
    burnout_score_sumsq double precision NOT NULL,
    burnout_score_min double precision NOT NULL,
    burnout_score_max double precision NOT NULL
);

-- One row per (UTC day, employee, team): an employee who changed teams
-- during a day has a row for each team, with the hours it spent in it.
CREATE TABLE IF NOT EXISTS employee_team_daily_store (
    bucket      timestamptz NOT NULL,
    employee_id text NOT NULL,
    team        text,
    samples     bigint NOT NULL,
    degree_centrality_sum double precision NOT NULL,
    betweenness_centrality_sum double precision NOT NULL,
    clustering_coeff_sum double precision NOT NULL,
    burnout_score_sum double precision NOT NULL,
    burnout_score_max double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS employee_team_daily_store_team
    ON employee_team_daily_store (team, bucket);
CREATE INDEX IF NOT EXISTS employee_team_daily_store_bucket
    ON employee_team_daily_store (bucket);

-- The one definition of the organisation's hour, over hourly rows.
CREATE OR REPLACE FUNCTION org_hours_from(lo timestamptz, hi timestamptz)
RETURNS SETOF metrics_hourly_org_store LANGUAGE sql STABLE AS $$
    SELECT bucket, sum(samples)::bigint,
           sum(degree_centrality_sum), sum(degree_centrality_sumsq), min(degree_centrality_min), max(degree_centrality_max),
           sum(betweenness_centrality_sum), sum(betweenness_centrality_sumsq), min(betweenness_centrality_min), max(betweenness_centrality_max),
           sum(clustering_coeff_sum), sum(clustering_coeff_sumsq), min(clustering_coeff_min), max(clustering_coeff_max),
           sum(burnout_score_sum), sum(burnout_score_sumsq), min(burnout_score_min), max(burnout_score_max)
    FROM employee_metrics_hourly
    WHERE bucket >= lo AND bucket < hi
    GROUP BY bucket
$$;

-- The one definition of a member-day, over hourly rows.
CREATE OR REPLACE FUNCTION team_days_from(lo timestamptz, hi timestamptz)
RETURNS SETOF employee_team_daily_store LANGUAGE sql STABLE AS $$
    SELECT date_trunc('day', bucket, 'UTC'), employee_id, team, sum(samples)::bigint,
           sum(degree_centrality_sum), sum(betweenness_centrality_sum),
           sum(clustering_coeff_sum), sum(burnout_score_sum), max(burnout_score_max)
    FROM employee_metrics_hourly
    WHERE bucket >= lo AND bucket < hi
    GROUP BY 1, 2, 3
$$;

CREATE VIEW metrics_hourly_org AS
SELECT o.*
FROM metrics_hourly_org_store o
WHERE o.bucket < (SELECT watermark FROM rollup_state)
  AND NOT EXISTS (SELECT 1 FROM rollup_invalidations i WHERE i.bucket = o.bucket)
UNION ALL
SELECT r.*
FROM rollup_state s
CROSS JOIN LATERAL org_hours_from(s.watermark, 'infinity') r
UNION ALL
SELECT r.*
FROM rollup_state s
JOIN rollup_invalidations i ON i.bucket < s.watermark
CROSS JOIN LATERAL org_hours_from(i.bucket, i.bucket + INTERVAL '1 hour') r;

-- The days of the invalidated hours that the daily store holds.
CREATE VIEW rollup_invalid_days AS
SELECT DISTINCT date_trunc('day', i.bucket, 'UTC') AS day
FROM rollup_invalidations i, rollup_state s
WHERE i.bucket < date_trunc('day', s.watermark, 'UTC');

CREATE VIEW employee_team_daily AS
SELECT d.*
FROM employee_team_daily_store d
WHERE d.bucket < (SELECT date_trunc('day', watermark, 'UTC') FROM rollup_state)
  AND NOT EXISTS (SELECT 1 FROM rollup_invalid_days v WHERE v.day = d.bucket)
UNION ALL
SELECT r.*
FROM rollup_state s
CROSS JOIN LATERAL team_days_from(date_trunc('day', s.watermark, 'UTC'), 'infinity') r
UNION ALL
SELECT r.*
FROM rollup_invalid_days v
CROSS JOIN LATERAL team_days_from(v.day, v.day + INTERVAL '1 day') r;

ANALYZE rollup_state;
ANALYZE rollup_invalidations;
