-- Version 8 (0008_rollup_levels.sql) as first released defined the
-- organisation's hours and the member-days over the real-time hourly view
-- (org_hours_from, team_days_from, the view employee_team_daily). Its file
-- was then edited in place; a database made from the edited file has the
-- bodies below, one made from the released file kept the first ones. This
-- migration brings both to the same end, and changes nothing in a database
-- that has them already:
--   * the organisation's real-time hours come straight from raw rows;
--   * the refresh writes both stores from materialised hours
--     (org_hours_from_store, team_days_from_store, called by rollup.rs);
--   * a team's member-days are read through team_member_days, which takes
--     the team's filter into every part, instead of the view
--     employee_team_daily;
--   * hours and days the stores lack although their hours are materialised
--     (a version-7 database upgraded by the released file) are filled.
-- Never edit this file either: a change ships as a new migration.

-- The organisation's hours straight from raw rows: the real-time part of
-- the view below. Grouped by hour alone, without the hourly rollup's
-- per-employee groups and its last-team sort.
CREATE OR REPLACE FUNCTION org_hours_from_raw(lo timestamptz, hi timestamptz)
RETURNS SETOF metrics_hourly_org_store LANGUAGE sql STABLE AS $$
    SELECT date_trunc('hour', time), count(*),
           sum(degree_centrality), sum(degree_centrality * degree_centrality), min(degree_centrality), max(degree_centrality),
           sum(betweenness_centrality), sum(betweenness_centrality * betweenness_centrality), min(betweenness_centrality), max(betweenness_centrality),
           sum(clustering_coeff), sum(clustering_coeff * clustering_coeff), min(clustering_coeff), max(clustering_coeff),
           sum(burnout_score), sum(burnout_score * burnout_score), min(burnout_score), max(burnout_score)
    FROM metrics_between(lo, hi)
    GROUP BY 1
$$;

-- The organisation's hours and the member-days from materialised hours:
-- what the refresh writes (rollup.rs) and what the upgrade below fills.
CREATE OR REPLACE FUNCTION org_hours_from_store(lo timestamptz, hi timestamptz)
RETURNS SETOF metrics_hourly_org_store LANGUAGE sql STABLE AS $$
    SELECT bucket, sum(samples)::bigint,
           sum(degree_centrality_sum), sum(degree_centrality_sumsq), min(degree_centrality_min), max(degree_centrality_max),
           sum(betweenness_centrality_sum), sum(betweenness_centrality_sumsq), min(betweenness_centrality_min), max(betweenness_centrality_max),
           sum(clustering_coeff_sum), sum(clustering_coeff_sumsq), min(clustering_coeff_min), max(clustering_coeff_max),
           sum(burnout_score_sum), sum(burnout_score_sumsq), min(burnout_score_min), max(burnout_score_max)
    FROM employee_metrics_hourly_store
    WHERE bucket >= lo AND bucket < hi
    GROUP BY bucket
$$;

CREATE OR REPLACE FUNCTION team_days_from_store(lo timestamptz, hi timestamptz)
RETURNS SETOF employee_team_daily_store LANGUAGE sql STABLE AS $$
    SELECT date_trunc('day', bucket, 'UTC'), employee_id, team, sum(samples)::bigint,
           sum(degree_centrality_sum), sum(betweenness_centrality_sum),
           sum(clustering_coeff_sum), sum(burnout_score_sum), max(burnout_score_max)
    FROM employee_metrics_hourly_store
    WHERE bucket >= lo AND bucket < hi
    GROUP BY 1, 2, 3
$$;

CREATE OR REPLACE VIEW metrics_hourly_org AS
SELECT o.*
FROM metrics_hourly_org_store o
WHERE o.bucket < (SELECT watermark FROM rollup_state)
  AND NOT EXISTS (SELECT 1 FROM rollup_invalidations i WHERE i.bucket = o.bucket)
UNION ALL
SELECT r.*
FROM rollup_state s
CROSS JOIN LATERAL org_hours_from_raw(s.watermark, 'infinity') r
UNION ALL
SELECT r.*
FROM rollup_state s
JOIN rollup_invalidations i ON i.bucket < s.watermark
CROSS JOIN LATERAL org_hours_from_raw(i.bucket, i.bucket + INTERVAL '1 hour') r;


DROP VIEW IF EXISTS employee_team_daily;
DROP FUNCTION IF EXISTS team_days_from(timestamptz, timestamptz);
DROP FUNCTION IF EXISTS org_hours_from(timestamptz, timestamptz);

-- A team's member-days in [lo, hi): one row per (day, employee) part, to be
-- summed per day by the caller (team_trend). Like the views, it adds what is
-- not materialised, but with the team's filter reaching every part: the
-- hours computed from raw rows are computed only for the employees with a
-- sample in the team in them (an hour counts for the team its employee was
-- in at its last sample, so such a sample is a condition for it), through
-- the raw table's (employee_id, time) key. (OFFSET 0 keeps PostgreSQL from
-- pulling the per-employee subquery up into a join, which would aggregate
-- every employee's raw hours first.)
CREATE OR REPLACE FUNCTION team_member_days(t text, lo timestamptz, hi timestamptz)
RETURNS TABLE (bucket timestamptz, employee_id text, samples bigint,
               degree_centrality_sum double precision, betweenness_centrality_sum double precision,
               clustering_coeff_sum double precision, burnout_score_sum double precision,
               burnout_score_max double precision)
LANGUAGE sql STABLE AS $$
    -- Whole days the daily store holds.
    SELECT d.bucket, d.employee_id, d.samples, d.degree_centrality_sum, d.betweenness_centrality_sum,
           d.clustering_coeff_sum, d.burnout_score_sum, d.burnout_score_max
    FROM employee_team_daily_store d
    WHERE d.team = t AND d.bucket >= lo AND d.bucket < hi
      AND d.bucket < (SELECT date_trunc('day', watermark, 'UTC') FROM rollup_state)
      AND NOT EXISTS (SELECT 1 FROM rollup_invalid_days v WHERE v.day = d.bucket)
    UNION ALL
    -- Materialised hours of the day of the watermark.
    SELECT date_trunc('day', h.bucket, 'UTC'), h.employee_id, h.samples, h.degree_centrality_sum,
           h.betweenness_centrality_sum, h.clustering_coeff_sum, h.burnout_score_sum, h.burnout_score_max
    FROM rollup_state s
    JOIN employee_metrics_hourly_store h
      ON h.bucket >= greatest(lo, date_trunc('day', s.watermark, 'UTC'))
     AND h.bucket < least(hi, s.watermark)
    WHERE h.team = t
      AND NOT EXISTS (SELECT 1 FROM rollup_invalidations i WHERE i.bucket = h.bucket)
    UNION ALL
    -- Materialised hours, not invalidated, of the days with an invalidated hour.
    SELECT date_trunc('day', h.bucket, 'UTC'), h.employee_id, h.samples, h.degree_centrality_sum,
           h.betweenness_centrality_sum, h.clustering_coeff_sum, h.burnout_score_sum, h.burnout_score_max
    FROM rollup_invalid_days v
    JOIN employee_metrics_hourly_store h
      ON h.bucket >= v.day AND h.bucket < v.day + INTERVAL '1 day'
    WHERE h.team = t AND h.bucket >= lo AND h.bucket < hi
      AND NOT EXISTS (SELECT 1 FROM rollup_invalidations i WHERE i.bucket = h.bucket)
    UNION ALL
    -- Hours after the watermark, from raw rows.
    SELECT date_trunc('day', r.bucket, 'UTC'), r.employee_id, r.samples, r.degree_centrality_sum,
           r.betweenness_centrality_sum, r.clustering_coeff_sum, r.burnout_score_sum, r.burnout_score_max
    FROM rollup_state s
    CROSS JOIN LATERAL (
        SELECT DISTINCT m.employee_id
        FROM metrics_between(greatest(lo, s.watermark), hi) m
        WHERE m.team = t) e
    CROSS JOIN LATERAL (
        SELECT * FROM hourly_from_raw(greatest(lo, s.watermark), hi) x
        WHERE x.employee_id = e.employee_id
        OFFSET 0) r
    WHERE r.team = t
    UNION ALL
    -- Invalidated hours, from raw rows.
    SELECT date_trunc('day', r.bucket, 'UTC'), r.employee_id, r.samples, r.degree_centrality_sum,
           r.betweenness_centrality_sum, r.clustering_coeff_sum, r.burnout_score_sum, r.burnout_score_max
    FROM rollup_state s
    JOIN rollup_invalidations i ON i.bucket < s.watermark AND i.bucket >= lo AND i.bucket < hi
    CROSS JOIN LATERAL (
        SELECT DISTINCT m.employee_id
        FROM metrics_between(i.bucket, i.bucket + INTERVAL '1 hour') m
        WHERE m.team = t) e
    CROSS JOIN LATERAL (
        SELECT * FROM hourly_from_raw(i.bucket, i.bucket + INTERVAL '1 hour') x
        WHERE x.employee_id = e.employee_id
        OFFSET 0) r
    WHERE r.team = t
$$;

-- Fill what the stores lack below the watermark, an hour or a day at a time
-- (index probes, so a database that lacks nothing pays little):
--   * an organisation's hour for every materialised hour without one;
--   * the member-days of every whole day without any (a day whose first
--     hours retention dropped has none on purpose), or of every day when
--     the daily store is empty, as for an upgrade from version 7.
-- Steps of 24 hours: UTC days, whatever the session's time zone.
INSERT INTO metrics_hourly_org_store
SELECT r.*
FROM (SELECT min(bucket) AS first FROM employee_metrics_hourly_store) f
CROSS JOIN rollup_state s
CROSS JOIN LATERAL generate_series(f.first, s.watermark - INTERVAL '1 hour', INTERVAL '1 hour') AS h(bucket)
CROSS JOIN LATERAL org_hours_from_store(h.bucket, h.bucket + INTERVAL '1 hour') r
WHERE NOT EXISTS (SELECT 1 FROM metrics_hourly_org_store o WHERE o.bucket = h.bucket);

INSERT INTO employee_team_daily_store
SELECT r.*
FROM (SELECT min(bucket) AS first FROM employee_metrics_hourly_store) f
CROSS JOIN rollup_state s
CROSS JOIN LATERAL generate_series(date_trunc('day', f.first, 'UTC'),
                                   date_trunc('day', s.watermark, 'UTC') - INTERVAL '24 hours',
                                   INTERVAL '24 hours') AS d(day)
CROSS JOIN LATERAL team_days_from_store(d.day, d.day + INTERVAL '24 hours') r
WHERE (d.day >= f.first OR NOT EXISTS (SELECT 1 FROM employee_team_daily_store))
  AND NOT EXISTS (SELECT 1 FROM employee_team_daily_store x WHERE x.bucket = d.day);
