-- Version 26 (portable): a team's raw rows found through the days its
-- members had samples in it, instead of an index on (team, time).
--
-- The index on the raw rows' (team, time) cost a second B-tree insertion per
-- sample: a COPY into the partitions took 10.8 s with it against 6.4 s
-- without (2.88 M rows, the unique index alone as fast as a plain table's).
-- It served one question: which employees had a sample of a team in a
-- window of raw rows (the hours after the watermark, invalidated hours, and
-- whether a team is known at all). raw_team_days answers it with one row per
-- (team, UTC day, employee), which the writer adds in the sample's own
-- transaction (about 1,000 rows for a batch of 100,000 samples). Its
-- candidates are a superset of the employees asked for; every read keeps
-- only the hours whose team is the team, as before. Packing a day keeps its
-- rows; retention drops them with the day's raw rows.

-- Writers wait until this migration commits (a writer of an older build
-- would otherwise add rows the backfill below does not see).
LOCK TABLE employee_metrics, employee_metrics_packed IN SHARE MODE;

CREATE TABLE IF NOT EXISTS raw_team_days (
    team        text NOT NULL,
    day         date NOT NULL,
    employee_id text NOT NULL,
    PRIMARY KEY (team, day, employee_id)
);

INSERT INTO raw_team_days (team, day, employee_id)
SELECT DISTINCT team, (time AT TIME ZONE 'UTC')::date, employee_id
FROM employee_metrics WHERE team IS NOT NULL
ON CONFLICT DO NOTHING;

INSERT INTO raw_team_days (team, day, employee_id)
SELECT DISTINCT t.team, p.day, p.employee_id
FROM employee_metrics_packed p CROSS JOIN LATERAL unnest(p.team) AS t(team)
WHERE t.team IS NOT NULL
ON CONFLICT DO NOTHING;

DROP INDEX IF EXISTS employee_metrics_team_time;

-- The employees with a raw sample of team t on a UTC day of [lo, hi): every
-- employee with a sample of the team in the window, and perhaps others.
CREATE OR REPLACE FUNCTION raw_team_candidates(t text, lo timestamptz, hi timestamptz)
RETURNS TABLE (employee_id text) LANGUAGE sql STABLE AS $$
    SELECT DISTINCT d.employee_id FROM raw_team_days d
    WHERE d.team = t
      AND d.day >= (lo AT TIME ZONE 'UTC')::date
      AND d.day <= (hi AT TIME ZONE 'UTC')::date
$$;

-- Whether any sample or rolled-up hour is of team t. raw_team_days holds
-- the packed days too, so the packed rows (a scan of them all for an
-- unknown team) are no longer read.
CREATE OR REPLACE FUNCTION team_known(t text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM raw_team_days WHERE team = t)
        OR EXISTS (SELECT 1 FROM employee_metrics_hourly WHERE team = t)
$$;

-- Versions 10 and 17 of these two, with the raw rows' employees taken from
-- raw_team_candidates.
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
        SELECT c.employee_id FROM raw_team_candidates(t, greatest(lo, s.watermark), hi) c) e
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
        SELECT c.employee_id FROM raw_team_candidates(t, i.bucket, i.bucket + INTERVAL '1 hour') c) e
    CROSS JOIN LATERAL (
        SELECT * FROM hourly_from_raw(i.bucket, i.bucket + INTERVAL '1 hour') x
        WHERE x.employee_id = e.employee_id
        OFFSET 0) r
    WHERE r.team = t
$$;

CREATE OR REPLACE FUNCTION team_member_days_read(t text, lo timestamptz, hi timestamptz)
RETURNS TABLE (bucket timestamptz, employee_id text, samples bigint,
               degree_centrality_sum double precision, betweenness_centrality_sum double precision,
               clustering_coeff_sum double precision, burnout_score_sum double precision,
               burnout_score_max double precision)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    w timestamptz;
    stored_until timestamptz;
    raw_hours CONSTANT text :=
        'SELECT date_trunc(''day'', r.bucket, ''UTC''), r.employee_id, r.samples,
                r.degree_centrality_sum, r.betweenness_centrality_sum, r.clustering_coeff_sum,
                r.burnout_score_sum, r.burnout_score_max
         FROM raw_team_candidates($1, $2, $3) e
         CROSS JOIN LATERAL (
             SELECT * FROM hourly_from_raw($2, $3) x
             WHERE x.employee_id = e.employee_id
             OFFSET 0) r
         WHERE r.team = $1';
    invalid timestamptz;
BEGIN
    SELECT s.watermark, date_trunc('day', s.watermark, 'UTC') INTO w, stored_until FROM rollup_state s;
    IF EXISTS (SELECT 1 FROM rollup_invalid_days v
               WHERE v.day >= date_trunc('day', lo, 'UTC') AND v.day < least(hi, stored_until)) THEN
        RETURN QUERY SELECT * FROM team_member_days(t, lo, hi);
        RETURN;
    END IF;
    RETURN QUERY
    SELECT d.bucket, d.employee_id, d.samples, d.degree_centrality_sum,
           d.betweenness_centrality_sum, d.clustering_coeff_sum, d.burnout_score_sum,
           d.burnout_score_max
    FROM employee_team_daily_store d
    WHERE d.team = t AND d.bucket >= lo AND d.bucket < least(hi, stored_until);
    IF hi <= stored_until THEN
        RETURN;
    END IF;
    -- The stored hours of the watermark's day.
    RETURN QUERY
    SELECT date_trunc('day', h.bucket, 'UTC'), h.employee_id, h.samples, h.degree_centrality_sum,
           h.betweenness_centrality_sum, h.clustering_coeff_sum, h.burnout_score_sum,
           h.burnout_score_max
    FROM employee_metrics_hourly_store h
    WHERE h.team = t AND h.bucket >= greatest(lo, stored_until) AND h.bucket < least(hi, w)
      AND NOT EXISTS (SELECT 1 FROM rollup_invalidations i WHERE i.bucket = h.bucket);
    -- That day's invalidated hours, and the hours after the watermark.
    FOR invalid IN
        SELECT i.bucket FROM rollup_invalidations i
        WHERE i.bucket >= greatest(lo, stored_until) AND i.bucket < least(hi, w) ORDER BY i.bucket
    LOOP
        RETURN QUERY EXECUTE raw_hours USING t, invalid, invalid + INTERVAL '1 hour';
    END LOOP;
    IF hi > w THEN
        RETURN QUERY EXECUTE raw_hours USING t, greatest(lo, w), hi;
    END IF;
END
$$;
