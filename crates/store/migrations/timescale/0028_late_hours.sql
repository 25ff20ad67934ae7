-- Version 28 (timescale): hours written after they were materialised are
-- read from raw rows until a refresh has caught up with them, so a write
-- no longer waits for that refresh.
--
-- Real-time aggregation adds only the hours after an aggregate's
-- watermark: a sample written into an hour before it stays out of every
-- rollup read until a refresh materialises the hour again. Until now each
-- write refreshed its hours before it returned, and a refresh aggregates
-- every employee's rows of those hours: a bulk load that writes a day in
-- ten slices of the employees aggregated that day 1 + 2 + ... + 10 = 55
-- slices' worth (0.05x COPY at 10,000 employees x 90 days).
--
-- Now a write records, in its own transaction, each hour it touched that
-- has ended, or ends within a minute, as it is about to commit
-- (late_hours): a refresh covers only hours that had ended when it began,
-- so one that materialised an hour without the write began before the
-- write committed, after the hour ended. Every read of the rollups
-- treats the first late hour as the watermark: the hours from it on come
-- from raw rows, which hold every committed sample, until a refresh has
-- covered them and deletes the rows of late_hours it saw before it began
-- (engines/timescale.rs). A late hour still running is harmless: reads
-- take it from raw rows anyway. The writers hand their hours to
-- one refresher per store that runs once they have been quiet for a
-- moment, so a load refreshes each day once, beside the writes.
CREATE TABLE IF NOT EXISTS late_hours (
    id     bigserial PRIMARY KEY,
    bucket timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS late_hours_bucket ON late_hours (bucket);

-- The first hour written since its aggregation, 'infinity' when none.
CREATE OR REPLACE FUNCTION late_from() RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT coalesce(min(bucket), 'infinity') FROM late_hours
$$;

-- A continuous aggregate of this schema: its materialised hypertable (a
-- quoted name) and its own watermark, read as a row in the caller's
-- snapshot (version 23's cagg_materialised); nulls when there is none.
CREATE OR REPLACE FUNCTION cagg_own(view_name text, OUT hypertable text, OUT watermark timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT format('%I.%I', h.schema_name, h.table_name),
           _timescaledb_functions.to_timestamp(w.watermark)
    FROM _timescaledb_catalog.continuous_agg c
    JOIN _timescaledb_catalog.hypertable h ON h.id = c.mat_hypertable_id
    LEFT JOIN _timescaledb_catalog.continuous_aggs_watermark w
           ON w.mat_hypertable_id = c.mat_hypertable_id
    WHERE c.user_view_name = view_name AND c.user_view_schema = current_schema()
$$;

-- The watermark the read functions go by (employee_hours,
-- team_member_days_read, burnout_alerts_since): the aggregate's own, or
-- the first late hour (its day for the daily aggregate) when that is
-- earlier. Null as before when the aggregate has none.
CREATE OR REPLACE FUNCTION cagg_materialised(view_name text, OUT hypertable text, OUT watermark timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT o.hypertable,
           CASE WHEN o.watermark IS NOT NULL THEN
               least(o.watermark,
                     CASE WHEN view_name = 'employee_team_daily'
                          THEN date_trunc('day', late_from(), 'UTC')
                          ELSE late_from() END)
           END
    FROM cagg_own(view_name) o
$$;

-- The late hours as runs of consecutive buckets of `step` (1 hour, or 24
-- hours for days), [lo, hi), of the buckets whose start is in [lo_, hi_).
CREATE OR REPLACE FUNCTION late_runs(step interval, lo_ timestamptz, hi_ timestamptz)
RETURNS TABLE (lo timestamptz, hi timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT min(b), max(b) + step
    FROM (SELECT b, b - step * row_number() OVER (ORDER BY b) AS run
          FROM (SELECT DISTINCT date_bin(step, l.bucket, timestamptz '2000-01-01 00:00:00+00') AS b
                FROM late_hours l
                WHERE l.bucket >= lo_ - step AND l.bucket < hi_) x
          WHERE b >= lo_ AND b < hi_) r
    GROUP BY run
$$;

-- The organisation's hours [lo, hi) from raw rows (the columns spelled
-- out: org_hours must not depend on the backfill table's row type).
CREATE OR REPLACE FUNCTION org_hours_from_raw(lo timestamptz, hi timestamptz)
RETURNS TABLE (bucket timestamptz, samples bigint,
               degree_centrality_sum double precision, degree_centrality_sumsq double precision, degree_centrality_min double precision, degree_centrality_max double precision,
               betweenness_centrality_sum double precision, betweenness_centrality_sumsq double precision, betweenness_centrality_min double precision, betweenness_centrality_max double precision,
               clustering_coeff_sum double precision, clustering_coeff_sumsq double precision, clustering_coeff_min double precision, clustering_coeff_max double precision,
               burnout_score_sum double precision, burnout_score_sumsq double precision, burnout_score_min double precision, burnout_score_max double precision)
LANGUAGE sql STABLE AS $$
    SELECT time_bucket(INTERVAL '1 hour', m.time), count(*)::bigint,
           sum(m.degree_centrality), sum(m.degree_centrality * m.degree_centrality), min(m.degree_centrality), max(m.degree_centrality),
           sum(m.betweenness_centrality), sum(m.betweenness_centrality * m.betweenness_centrality), min(m.betweenness_centrality), max(m.betweenness_centrality),
           sum(m.clustering_coeff), sum(m.clustering_coeff * m.clustering_coeff), min(m.clustering_coeff), max(m.clustering_coeff),
           sum(m.burnout_score), sum(m.burnout_score * m.burnout_score), min(m.burnout_score), max(m.burnout_score)
    FROM employee_metrics m
    WHERE m.time >= lo AND m.time < hi
    GROUP BY 1
$$;

-- Every employee's late hours (or the organisation's), from raw rows, one
-- scan per run, through EXECUTE: planned only when there are some, over
-- their chunks alone.
CREATE OR REPLACE FUNCTION late_hours_from_raw() RETURNS SETOF employee_metrics_hourly_backfill
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM late_runs(INTERVAL '1 hour', '-infinity', 'infinity') LOOP
        RETURN QUERY EXECUTE 'SELECT * FROM hourly_from_raw($1, $2)' USING r.lo, r.hi;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION late_org_hours_from_raw() RETURNS SETOF metrics_hourly_org_backfill
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM late_runs(INTERVAL '1 hour', '-infinity', 'infinity') LOOP
        RETURN QUERY EXECUTE 'SELECT * FROM org_hours_from_raw($1, $2)' USING r.lo, r.hi;
    END LOOP;
END
$$;

-- The hourly rollup (version 11's view): the aggregate's hours but the
-- late ones, the late ones from raw rows, and the backfill.
CREATE OR REPLACE VIEW employee_metrics_hourly AS
SELECT c.* FROM employee_metrics_hourly_cagg c
WHERE NOT EXISTS (SELECT 1 FROM late_hours l WHERE l.bucket = c.bucket)
UNION ALL
SELECT * FROM late_hours_from_raw()
UNION ALL
SELECT * FROM employee_metrics_hourly_backfill;

-- The organisation's hours, the same way.
CREATE OR REPLACE VIEW metrics_hourly_org AS
SELECT bucket, sum(samples)::bigint AS samples,
       sum(degree_centrality_sum) AS degree_centrality_sum, sum(degree_centrality_sumsq) AS degree_centrality_sumsq, min(degree_centrality_min) AS degree_centrality_min, max(degree_centrality_max) AS degree_centrality_max,
       sum(betweenness_centrality_sum) AS betweenness_centrality_sum, sum(betweenness_centrality_sumsq) AS betweenness_centrality_sumsq, min(betweenness_centrality_min) AS betweenness_centrality_min, max(betweenness_centrality_max) AS betweenness_centrality_max,
       sum(clustering_coeff_sum) AS clustering_coeff_sum, sum(clustering_coeff_sumsq) AS clustering_coeff_sumsq, min(clustering_coeff_min) AS clustering_coeff_min, max(clustering_coeff_max) AS clustering_coeff_max,
       sum(burnout_score_sum) AS burnout_score_sum, sum(burnout_score_sumsq) AS burnout_score_sumsq, min(burnout_score_min) AS burnout_score_min, max(burnout_score_max) AS burnout_score_max
FROM (SELECT c.* FROM metrics_hourly_org_cagg c
      WHERE NOT EXISTS (SELECT 1 FROM late_hours l WHERE l.bucket = c.bucket)
      UNION ALL
      SELECT * FROM late_org_hours_from_raw()
      UNION ALL
      SELECT * FROM metrics_hourly_org_backfill) o
GROUP BY bucket;

-- Member-days of the whole days [lo, hi) from raw rows, as the daily
-- aggregate computes them from the hourly one (an hour counts for its
-- last sample's team).
CREATE OR REPLACE FUNCTION member_days_from_raw(lo timestamptz, hi timestamptz)
RETURNS TABLE (bucket timestamptz, employee_id text, team text, samples bigint,
               degree_centrality_sum double precision, betweenness_centrality_sum double precision,
               clustering_coeff_sum double precision, burnout_score_sum double precision,
               burnout_score_max double precision)
LANGUAGE sql STABLE AS $$
    SELECT time_bucket(INTERVAL '1 day', r.bucket), r.employee_id, r.team,
           sum(r.samples)::bigint, sum(r.degree_centrality_sum), sum(r.betweenness_centrality_sum),
           sum(r.clustering_coeff_sum), sum(r.burnout_score_sum), max(r.burnout_score_max)
    FROM hourly_from_raw(lo, hi) r
    GROUP BY 1, 2, 3
$$;

-- The member-day readers of the daily aggregate (versions 11 and 12): when
-- a day of the window holds a late hour, the aggregate's other days and
-- the late days from raw rows, through EXECUTE (planned with the days'
-- bounds, the employee or team filter reaching the raw scan); otherwise
-- the aggregate's days, as before.
CREATE OR REPLACE FUNCTION team_member_days(t text, lo timestamptz, hi timestamptz)
RETURNS TABLE (bucket timestamptz, employee_id text, samples bigint,
               degree_centrality_sum double precision, betweenness_centrality_sum double precision,
               clustering_coeff_sum double precision, burnout_score_sum double precision,
               burnout_score_max double precision)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r record;
    late boolean;
BEGIN
    SELECT EXISTS (SELECT 1 FROM late_runs(INTERVAL '24 hours', lo, hi)) INTO late;
    RETURN QUERY
    SELECT d.bucket, d.employee_id, d.samples, d.degree_centrality_sum, d.betweenness_centrality_sum, d.clustering_coeff_sum, d.burnout_score_sum, d.burnout_score_max
    FROM employee_team_daily d
    WHERE d.team = t AND d.bucket >= lo AND d.bucket < hi
      AND (NOT late OR NOT EXISTS (SELECT 1 FROM late_runs(INTERVAL '24 hours', lo, hi) x
                                   WHERE d.bucket >= x.lo AND d.bucket < x.hi))
    UNION ALL
    SELECT b.bucket, b.employee_id, b.samples, b.degree_centrality_sum, b.betweenness_centrality_sum, b.clustering_coeff_sum, b.burnout_score_sum, b.burnout_score_max
    FROM employee_team_daily_backfill b
    WHERE b.team = t AND b.bucket >= lo AND b.bucket < hi;
    FOR r IN SELECT * FROM late_runs(INTERVAL '24 hours', lo, hi) LOOP
        RETURN QUERY EXECUTE
            'SELECT m.bucket, m.employee_id, m.samples, m.degree_centrality_sum, m.betweenness_centrality_sum,
                    m.clustering_coeff_sum, m.burnout_score_sum, m.burnout_score_max
             FROM member_days_from_raw($2, $3) m WHERE m.team = $1'
        USING t, r.lo, r.hi;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION member_days(lo timestamptz, hi timestamptz)
RETURNS TABLE (bucket timestamptz, employee_id text, team text, samples bigint,
               degree_centrality_sum double precision, betweenness_centrality_sum double precision,
               clustering_coeff_sum double precision, burnout_score_sum double precision,
               burnout_score_max double precision)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r record;
    late boolean;
BEGIN
    SELECT EXISTS (SELECT 1 FROM late_runs(INTERVAL '24 hours', lo, hi)) INTO late;
    RETURN QUERY
    SELECT d.bucket, d.employee_id, d.team, d.samples, d.degree_centrality_sum,
           d.betweenness_centrality_sum, d.clustering_coeff_sum, d.burnout_score_sum,
           d.burnout_score_max
    FROM employee_team_daily d
    WHERE d.bucket >= lo AND d.bucket < hi
      AND (NOT late OR NOT EXISTS (SELECT 1 FROM late_runs(INTERVAL '24 hours', lo, hi) x
                                   WHERE d.bucket >= x.lo AND d.bucket < x.hi))
    UNION ALL
    SELECT b.bucket, b.employee_id, b.team, b.samples, b.degree_centrality_sum,
           b.betweenness_centrality_sum, b.clustering_coeff_sum, b.burnout_score_sum,
           b.burnout_score_max
    FROM employee_team_daily_backfill b
    WHERE b.bucket >= lo AND b.bucket < hi;
    FOR r IN SELECT * FROM late_runs(INTERVAL '24 hours', lo, hi) LOOP
        RETURN QUERY EXECUTE 'SELECT * FROM member_days_from_raw($1, $2)' USING r.lo, r.hi;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION employee_member_days(e text, lo timestamptz, hi timestamptz)
RETURNS TABLE (bucket timestamptz, employee_id text, team text, samples bigint,
               degree_centrality_sum double precision, betweenness_centrality_sum double precision,
               clustering_coeff_sum double precision, burnout_score_sum double precision,
               burnout_score_max double precision)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r record;
    late boolean;
BEGIN
    SELECT EXISTS (SELECT 1 FROM late_runs(INTERVAL '24 hours', lo, hi)) INTO late;
    RETURN QUERY
    SELECT d.bucket, d.employee_id, d.team, d.samples, d.degree_centrality_sum,
           d.betweenness_centrality_sum, d.clustering_coeff_sum, d.burnout_score_sum,
           d.burnout_score_max
    FROM employee_team_daily d
    WHERE d.employee_id = e AND d.bucket >= lo AND d.bucket < hi
      AND (NOT late OR NOT EXISTS (SELECT 1 FROM late_runs(INTERVAL '24 hours', lo, hi) x
                                   WHERE d.bucket >= x.lo AND d.bucket < x.hi))
    UNION ALL
    SELECT b.bucket, b.employee_id, b.team, b.samples, b.degree_centrality_sum,
           b.betweenness_centrality_sum, b.clustering_coeff_sum, b.burnout_score_sum,
           b.burnout_score_max
    FROM employee_team_daily_backfill b
    WHERE b.employee_id = e AND b.bucket >= lo AND b.bucket < hi;
    FOR r IN SELECT * FROM late_runs(INTERVAL '24 hours', lo, hi) LOOP
        RETURN QUERY EXECUTE
            'SELECT * FROM member_days_from_raw($2, $3) m WHERE m.employee_id = $1'
        USING e, r.lo, r.hi;
    END LOOP;
END
$$;

-- The organisation's hours (version 25) take exactly the late hours from
-- raw rows, not every hour from the first of them as the watermark readers
-- above do: the statistics read a year of the organisation's hours, and
-- one late sample 60 days back would otherwise make each of them aggregate
-- 60 days of everyone's raw rows until its refresh.
CREATE OR REPLACE FUNCTION org_hours(lo timestamptz, hi timestamptz)
RETURNS TABLE (bucket timestamptz, samples bigint,
               degree_centrality_sum double precision, degree_centrality_sumsq double precision, degree_centrality_min double precision, degree_centrality_max double precision,
               betweenness_centrality_sum double precision, betweenness_centrality_sumsq double precision, betweenness_centrality_min double precision, betweenness_centrality_max double precision,
               clustering_coeff_sum double precision, clustering_coeff_sumsq double precision, clustering_coeff_min double precision, clustering_coeff_max double precision,
               burnout_score_sum double precision, burnout_score_sumsq double precision, burnout_score_min double precision, burnout_score_max double precision)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    org text;
    org_until timestamptz;
    r record;
    raw constant text := 'SELECT * FROM org_hours_from_raw($1, $2)';
BEGIN
    -- The aggregate's own watermark, in this statement's snapshot.
    SELECT o.hypertable, o.watermark INTO org, org_until FROM cagg_own('metrics_hourly_org_cagg') o;
    IF org IS NULL OR org_until IS NULL THEN
        RETURN QUERY SELECT o.* FROM metrics_hourly_org o WHERE o.bucket >= lo AND o.bucket < hi;
        RETURN;
    END IF;
    IF lo < org_until THEN
        RETURN QUERY EXECUTE format(
            'SELECT o.bucket, o.samples, o.degree_centrality_sum, o.degree_centrality_sumsq, o.degree_centrality_min, o.degree_centrality_max, o.betweenness_centrality_sum, o.betweenness_centrality_sumsq, o.betweenness_centrality_min, o.betweenness_centrality_max, o.clustering_coeff_sum, o.clustering_coeff_sumsq, o.clustering_coeff_min, o.clustering_coeff_max, o.burnout_score_sum, o.burnout_score_sumsq, o.burnout_score_min, o.burnout_score_max
             FROM %s o WHERE o.bucket >= $1 AND o.bucket < $2
               AND NOT EXISTS (SELECT 1 FROM late_hours l WHERE l.bucket = o.bucket)', org)
        USING lo, least(hi, org_until);
        FOR r IN SELECT * FROM late_runs(INTERVAL '1 hour', lo, least(hi, org_until)) LOOP
            RETURN QUERY EXECUTE raw USING r.lo, r.hi;
        END LOOP;
    END IF;
    -- An hour is in [lo, hi) when its start is: the raw rows of the hours
    -- from lo's hour to hi's, the partial hours filtered out after.
    IF hi > org_until THEN
        RETURN QUERY EXECUTE 'SELECT r.* FROM (' || raw || ') r WHERE r.bucket >= $3 AND r.bucket < $4'
        USING greatest(org_until, date_trunc('hour', lo, 'UTC')),
              date_trunc('hour', hi, 'UTC') + INTERVAL '1 hour', greatest(lo, org_until), hi;
    END IF;
    RETURN QUERY
    SELECT b.bucket, b.samples, b.degree_centrality_sum, b.degree_centrality_sumsq, b.degree_centrality_min, b.degree_centrality_max, b.betweenness_centrality_sum, b.betweenness_centrality_sumsq, b.betweenness_centrality_min, b.betweenness_centrality_max, b.clustering_coeff_sum, b.clustering_coeff_sumsq, b.clustering_coeff_min, b.clustering_coeff_max, b.burnout_score_sum, b.burnout_score_sumsq, b.burnout_score_min, b.burnout_score_max
    FROM metrics_hourly_org_backfill b
    WHERE b.bucket >= lo AND b.bucket < hi;
END
$$;
