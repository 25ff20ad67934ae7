-- The portable engine's hourly rollup, materialised (DESIGN.md §2, §3).
--
-- employee_metrics_hourly_store holds the hours before the watermark in
-- rollup_state. Writes that touch an hour before the watermark record it in
-- rollup_invalidations (in the same transaction), and the refresh recomputes
-- only those hours, then moves the watermark up to the last complete hour.
-- The view employee_metrics_hourly, which every query reads, is real-time:
-- stored hours that are not invalidated, plus the hours after the watermark
-- and the invalidated hours computed from raw rows on the fly, so a sample
-- written a second ago is visible.

CREATE TABLE IF NOT EXISTS employee_metrics_hourly_store (
    bucket      timestamptz NOT NULL,
    employee_id text NOT NULL,
    team        text,
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
    burnout_score_max double precision NOT NULL,
    PRIMARY KEY (employee_id, bucket)
);
CREATE INDEX IF NOT EXISTS employee_metrics_hourly_store_team
    ON employee_metrics_hourly_store (team, bucket DESC);
CREATE INDEX IF NOT EXISTS employee_metrics_hourly_store_bucket
    ON employee_metrics_hourly_store (bucket);

CREATE TABLE IF NOT EXISTS rollup_state (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    watermark timestamptz NOT NULL
);
INSERT INTO rollup_state (watermark) VALUES ('-infinity') ON CONFLICT (only_row) DO NOTHING;

-- The first instant whose raw rows retention keeps. Hours before it are
-- never recomputed from raw rows (a late sample there would otherwise replace
-- a whole hour's aggregate); see retention.rs.
CREATE TABLE IF NOT EXISTS lifecycle_state (
    only_row      boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    raw_kept_from timestamptz NOT NULL
);
INSERT INTO lifecycle_state (raw_kept_from) VALUES ('-infinity') ON CONFLICT (only_row) DO NOTHING;

CREATE TABLE IF NOT EXISTS rollup_invalidations (
    bucket timestamptz PRIMARY KEY
);

-- The one definition of an hour's aggregate, over raw rows in [lo, hi).
-- A plain SQL function, so the planner inlines it and pushes filters on
-- employee_id down to the raw table's index.
CREATE OR REPLACE FUNCTION hourly_from_raw(lo timestamptz, hi timestamptz)
RETURNS SETOF employee_metrics_hourly_store LANGUAGE sql STABLE AS $$
    SELECT date_trunc('hour', time), employee_id,
           (array_agg(team ORDER BY time DESC))[1],
           count(*),
           sum(degree_centrality), sum(degree_centrality * degree_centrality), min(degree_centrality), max(degree_centrality),
           sum(betweenness_centrality), sum(betweenness_centrality * betweenness_centrality), min(betweenness_centrality), max(betweenness_centrality),
           sum(clustering_coeff), sum(clustering_coeff * clustering_coeff), min(clustering_coeff), max(clustering_coeff),
           sum(burnout_score), sum(burnout_score * burnout_score), min(burnout_score), max(burnout_score)
    FROM employee_metrics
    WHERE time >= lo AND time < hi
    GROUP BY 1, 2
$$;

-- The raw parts reach the watermark through a lateral join rather than a
-- sub-select argument, so that PostgreSQL inlines hourly_from_raw and pushes
-- the caller's employee_id filter and the time bounds down to the raw table.
DROP VIEW IF EXISTS employee_metrics_hourly;
CREATE VIEW employee_metrics_hourly AS
SELECT h.*
FROM employee_metrics_hourly_store h
WHERE h.bucket < (SELECT watermark FROM rollup_state)
  AND NOT EXISTS (SELECT 1 FROM rollup_invalidations i WHERE i.bucket = h.bucket)
UNION ALL
SELECT r.*
FROM rollup_state s
CROSS JOIN LATERAL hourly_from_raw(s.watermark, 'infinity') r
UNION ALL
SELECT r.*
FROM rollup_state s
JOIN rollup_invalidations i ON i.bucket < s.watermark
CROSS JOIN LATERAL hourly_from_raw(i.bucket, i.bucket + INTERVAL '1 hour') r;

-- Planner statistics for the one-row tables from the start (the default
-- guess of thousands of rows makes every plan over the view look costly).
ANALYZE rollup_state;
ANALYZE lifecycle_state;
ANALYZE rollup_invalidations;
