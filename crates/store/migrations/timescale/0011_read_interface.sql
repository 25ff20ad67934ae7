-- Version 11: the read interface both engines define (DESIGN.md §4), one
-- refresher per rollup, and backfill below the kept raw rows.
--
-- The queries of the service (queries.rs) read only these names, defined
-- by each engine's migrations with the same columns:
--   metrics_between(lo, hi)          raw samples in [lo, hi)
--   employee_metrics_hourly          the hourly rollup, real-time hours included
--   metrics_hourly_org               the organisation's hours
--   team_member_days(team, lo, hi)   a team's member-days (rows per part)
--   employee_known(id), team_known(team)
-- and the writer calls backfill_rollup(hours) for samples older than the
-- kept raw rows.

-- One refresher per rollup: the service's refresh job (and its refresh of
-- late hours after a write) is the only one. TimescaleDB's refresh policies
-- ran at the same time and failed with 55P03 "concurrent refresh"; worse,
-- with no start offset they could reach hours whose raw rows retention had
-- dropped. Compression stays TimescaleDB's policy (and the service's
-- explicit calls, which are idempotent).
SELECT remove_continuous_aggregate_policy(c, if_exists => true)
FROM unnest(ARRAY['employee_metrics_hourly', 'metrics_hourly_org', 'employee_team_daily']::regclass[]) AS c;

-- Continuous aggregates cannot take rows that are not computed from raw
-- rows, and a refresh replaces whole buckets from the raw rows present: a
-- sample backfilled into an hour whose raw rows retention dropped would,
-- refreshed, replace every employee's row of that hour by its own. So
-- hours before raw_kept_from are never refreshed, and what is backfilled
-- there is rolled up into plain tables of the same shape as the portable
-- engine's stores; the read interface adds them to the aggregates'.
-- (Renamed only if not done yet, so that the migration can run again.)
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM timescaledb_information.continuous_aggregates
               WHERE view_schema = current_schema() AND view_name = 'employee_metrics_hourly') THEN
        ALTER MATERIALIZED VIEW employee_metrics_hourly RENAME TO employee_metrics_hourly_cagg;
    END IF;
    IF EXISTS (SELECT 1 FROM timescaledb_information.continuous_aggregates
               WHERE view_schema = current_schema() AND view_name = 'metrics_hourly_org') THEN
        ALTER MATERIALIZED VIEW metrics_hourly_org RENAME TO metrics_hourly_org_cagg;
    END IF;
END
$$;

CREATE TABLE IF NOT EXISTS employee_metrics_hourly_backfill (
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
CREATE INDEX IF NOT EXISTS employee_metrics_hourly_backfill_team
    ON employee_metrics_hourly_backfill (team, bucket);
CREATE INDEX IF NOT EXISTS employee_metrics_hourly_backfill_bucket
    ON employee_metrics_hourly_backfill (bucket);

CREATE TABLE IF NOT EXISTS metrics_hourly_org_backfill (
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

CREATE TABLE IF NOT EXISTS employee_team_daily_backfill (
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
CREATE INDEX IF NOT EXISTS employee_team_daily_backfill_team
    ON employee_team_daily_backfill (team, bucket);
CREATE INDEX IF NOT EXISTS employee_team_daily_backfill_bucket
    ON employee_team_daily_backfill (bucket);

-- An (employee, hour) is in the aggregate or in the backfill table, never
-- both (see backfill_rollup), so the hourly rollup is their union.
CREATE OR REPLACE VIEW employee_metrics_hourly AS
SELECT * FROM employee_metrics_hourly_cagg
UNION ALL
SELECT * FROM employee_metrics_hourly_backfill;

-- An organisation hour may hold both: sums and extremes combine.
CREATE OR REPLACE VIEW metrics_hourly_org AS
SELECT bucket, sum(samples)::bigint AS samples,
       sum(degree_centrality_sum) AS degree_centrality_sum, sum(degree_centrality_sumsq) AS degree_centrality_sumsq, min(degree_centrality_min) AS degree_centrality_min, max(degree_centrality_max) AS degree_centrality_max,
       sum(betweenness_centrality_sum) AS betweenness_centrality_sum, sum(betweenness_centrality_sumsq) AS betweenness_centrality_sumsq, min(betweenness_centrality_min) AS betweenness_centrality_min, max(betweenness_centrality_max) AS betweenness_centrality_max,
       sum(clustering_coeff_sum) AS clustering_coeff_sum, sum(clustering_coeff_sumsq) AS clustering_coeff_sumsq, min(clustering_coeff_min) AS clustering_coeff_min, max(clustering_coeff_max) AS clustering_coeff_max,
       sum(burnout_score_sum) AS burnout_score_sum, sum(burnout_score_sumsq) AS burnout_score_sumsq, min(burnout_score_min) AS burnout_score_min, max(burnout_score_max) AS burnout_score_max
FROM (SELECT * FROM metrics_hourly_org_cagg
      UNION ALL
      SELECT * FROM metrics_hourly_org_backfill) o
GROUP BY bucket;

CREATE OR REPLACE FUNCTION metrics_between(lo timestamptz, hi timestamptz)
RETURNS TABLE ("time" timestamptz, employee_id text, team text, degree_centrality double precision,
               betweenness_centrality double precision, clustering_coeff double precision,
               burnout_score double precision)
LANGUAGE sql STABLE AS $$
    SELECT m.time, m.employee_id, m.team, m.degree_centrality, m.betweenness_centrality,
           m.clustering_coeff, m.burnout_score
    FROM employee_metrics m
    WHERE m.time >= lo AND m.time < hi
$$;

CREATE OR REPLACE FUNCTION team_member_days(t text, lo timestamptz, hi timestamptz)
RETURNS TABLE (bucket timestamptz, employee_id text, samples bigint,
               degree_centrality_sum double precision, betweenness_centrality_sum double precision,
               clustering_coeff_sum double precision, burnout_score_sum double precision,
               burnout_score_max double precision)
LANGUAGE sql STABLE AS $$
    SELECT d.bucket, d.employee_id, d.samples, d.degree_centrality_sum, d.betweenness_centrality_sum, d.clustering_coeff_sum, d.burnout_score_sum, d.burnout_score_max
    FROM employee_team_daily d
    WHERE d.team = t AND d.bucket >= lo AND d.bucket < hi
    UNION ALL
    SELECT b.bucket, b.employee_id, b.samples, b.degree_centrality_sum, b.betweenness_centrality_sum, b.clustering_coeff_sum, b.burnout_score_sum, b.burnout_score_max
    FROM employee_team_daily_backfill b
    WHERE b.team = t AND b.bucket >= lo AND b.bucket < hi
$$;

CREATE OR REPLACE FUNCTION employee_known(e text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM employee_metrics WHERE employee_id = e)
        OR EXISTS (SELECT 1 FROM employee_metrics_hourly WHERE employee_id = e)
$$;

CREATE OR REPLACE FUNCTION team_known(t text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM employee_metrics WHERE team = t)
        OR EXISTS (SELECT 1 FROM employee_metrics_hourly WHERE team = t)
$$;

CREATE OR REPLACE FUNCTION hourly_from_raw(lo timestamptz, hi timestamptz)
RETURNS SETOF employee_metrics_hourly_backfill LANGUAGE sql STABLE AS $$
    SELECT time_bucket(INTERVAL '1 hour', time), employee_id,
           last(team, time),
           count(*),
           sum(degree_centrality), sum(degree_centrality * degree_centrality), min(degree_centrality), max(degree_centrality),
           sum(betweenness_centrality), sum(betweenness_centrality * betweenness_centrality), min(betweenness_centrality), max(betweenness_centrality),
           sum(clustering_coeff), sum(clustering_coeff * clustering_coeff), min(clustering_coeff), max(clustering_coeff),
           sum(burnout_score), sum(burnout_score * burnout_score), min(burnout_score), max(burnout_score)
    FROM employee_metrics
    WHERE time >= lo AND time < hi
    GROUP BY 1, 2
$$;

-- Backfill: samples written into hours before lifecycle_state.raw_kept_from.
-- Every raw row left in such an hour was written after retention dropped
-- the hour's original rows (which the aggregate keeps), so each (employee,
-- hour) with raw rows there is recomputed from them into the backfill
-- table; the writer refuses a sample for an (employee, hour) the rollup
-- holds with no raw rows left, so the two never hold the same (employee,
-- hour). Then the backfill table's organisation hours and member-days of
-- those hours and days are recomputed from it. Runs in the write's
-- transaction. Returns the hourly rows written.
CREATE OR REPLACE FUNCTION backfill_rollup(hours timestamptz[]) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    written bigint;
    lo timestamptz;
    hi timestamptz;
BEGIN
    -- One scan of the range the hours span (its chunks excluded at plan
    -- time: plpgsql passes lo and hi as values), not one probe per hour.
    SELECT min(b), max(b) + INTERVAL '1 hour' INTO lo, hi FROM unnest(hours) AS b;
    IF lo IS NULL THEN
        RETURN 0;
    END IF;
    DELETE FROM employee_metrics_hourly_backfill h
    USING (SELECT DISTINCT m.employee_id, time_bucket(INTERVAL '1 hour', m.time) AS bucket
           FROM employee_metrics m
           WHERE m.time >= lo AND m.time < hi
             AND time_bucket(INTERVAL '1 hour', m.time) = ANY(hours)) r
    WHERE h.employee_id = r.employee_id AND h.bucket = r.bucket;
    INSERT INTO employee_metrics_hourly_backfill
    SELECT r.* FROM hourly_from_raw(lo, hi) r WHERE r.bucket = ANY(hours);
    GET DIAGNOSTICS written = ROW_COUNT;
    DELETE FROM metrics_hourly_org_backfill WHERE bucket = ANY(hours);
    INSERT INTO metrics_hourly_org_backfill
    SELECT bucket, sum(samples)::bigint,
           sum(degree_centrality_sum), sum(degree_centrality_sumsq), min(degree_centrality_min), max(degree_centrality_max),
           sum(betweenness_centrality_sum), sum(betweenness_centrality_sumsq), min(betweenness_centrality_min), max(betweenness_centrality_max),
           sum(clustering_coeff_sum), sum(clustering_coeff_sumsq), min(clustering_coeff_min), max(clustering_coeff_max),
           sum(burnout_score_sum), sum(burnout_score_sumsq), min(burnout_score_min), max(burnout_score_max)
    FROM employee_metrics_hourly_backfill
    WHERE bucket = ANY(hours)
    GROUP BY bucket;
    DELETE FROM employee_team_daily_backfill
    WHERE bucket IN (SELECT date_trunc('day', b, 'UTC') FROM unnest(hours) AS b);
    INSERT INTO employee_team_daily_backfill
    SELECT date_trunc('day', h.bucket, 'UTC'), h.employee_id, h.team, sum(h.samples)::bigint,
           sum(h.degree_centrality_sum), sum(h.betweenness_centrality_sum), sum(h.clustering_coeff_sum), sum(h.burnout_score_sum), max(h.burnout_score_max)
    FROM (SELECT DISTINCT date_trunc('day', b, 'UTC') AS day FROM unnest(hours) AS b) d
    JOIN employee_metrics_hourly_backfill h
      ON h.bucket >= d.day AND h.bucket < d.day + INTERVAL '1 day'
    GROUP BY 1, 2, 3;
    RETURN written;
END
$$;
