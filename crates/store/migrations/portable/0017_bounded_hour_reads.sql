-- Version 17 (portable): one employee's hours, and a team's today, planned with
-- the bounds of the raw rows they read.
--
-- The real-time view employee_metrics_hourly reaches the raw rows after
-- the watermark through a lateral join with rollup_state, so the raw
-- partitions it reads are chosen only when it runs: every prepared read
-- through it is planned with every raw and packed partition (27-140 ms the
-- first time on each connection at 10,000 employees × 90 days, then kept
-- per connection), and at run time it still visits each partition's index
-- (41 ms for an employee's today). employee_hours reads the same rows: the
-- stored hours that are not invalidated from the store by its primary key,
-- and the hours after the watermark and the invalidated hours from raw
-- rows through EXECUTE, which plans hourly_from_raw with its bounds as
-- constants so that only their day's partitions are planned and read
-- (0.5 ms of planning, 0.05 ms to run for today).
CREATE OR REPLACE FUNCTION employee_hours(e text, lo timestamptz, hi timestamptz)
RETURNS TABLE (bucket timestamptz, team text, samples bigint,
               degree_centrality_sum double precision, betweenness_centrality_sum double precision,
               clustering_coeff_sum double precision, burnout_score_sum double precision,
               burnout_score_min double precision, burnout_score_max double precision)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    w timestamptz;
    invalid timestamptz;
BEGIN
    SELECT s.watermark INTO w FROM rollup_state s;
    RETURN QUERY
    SELECT h.bucket, h.team, h.samples, h.degree_centrality_sum, h.betweenness_centrality_sum,
           h.clustering_coeff_sum, h.burnout_score_sum, h.burnout_score_min, h.burnout_score_max
    FROM employee_metrics_hourly_store h
    WHERE h.employee_id = e AND h.bucket >= lo AND h.bucket < least(hi, w)
      AND NOT EXISTS (SELECT 1 FROM rollup_invalidations i WHERE i.bucket = h.bucket);
    -- An hour is in [lo, hi) when its start is: the raw rows of the hours
    -- from lo's hour to hi's, the partial hours filtered out after.
    IF hi > w THEN
        RETURN QUERY EXECUTE
            'SELECT r.bucket, r.team, r.samples, r.degree_centrality_sum, r.betweenness_centrality_sum,
                    r.clustering_coeff_sum, r.burnout_score_sum, r.burnout_score_min, r.burnout_score_max
             FROM hourly_from_raw($2, $3) r
             WHERE r.employee_id = $1 AND r.bucket >= $4 AND r.bucket < $5'
        USING e, greatest(w, date_trunc('hour', lo)), date_trunc('hour', hi) + INTERVAL '1 hour', lo, hi;
    END IF;
    FOR invalid IN
        SELECT i.bucket FROM rollup_invalidations i
        WHERE i.bucket >= lo AND i.bucket < least(hi, w) ORDER BY i.bucket
    LOOP
        RETURN QUERY EXECUTE
            'SELECT r.bucket, r.team, r.samples, r.degree_centrality_sum, r.betweenness_centrality_sum,
                    r.clustering_coeff_sum, r.burnout_score_sum, r.burnout_score_min, r.burnout_score_max
             FROM hourly_from_raw($2, $2 + INTERVAL ''1 hour'') r
             WHERE r.employee_id = $1'
        USING e, invalid;
    END LOOP;
END
$$;

-- employee_member_days (version 12) read the day of the watermark and the
-- days with an invalidated hour through the view; now through
-- employee_hours, and only the hours it needs.
CREATE OR REPLACE FUNCTION employee_member_days(e text, lo timestamptz, hi timestamptz)
RETURNS TABLE (bucket timestamptz, employee_id text, team text, samples bigint,
               degree_centrality_sum double precision, betweenness_centrality_sum double precision,
               clustering_coeff_sum double precision, burnout_score_sum double precision,
               burnout_score_max double precision)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    stored_until timestamptz;
    hours_from timestamptz;
BEGIN
    SELECT date_trunc('day', s.watermark, 'UTC') INTO stored_until FROM rollup_state s;
    RETURN QUERY
    SELECT d.bucket, d.employee_id, d.team, d.samples, d.degree_centrality_sum,
           d.betweenness_centrality_sum, d.clustering_coeff_sum, d.burnout_score_sum,
           d.burnout_score_max
    FROM employee_team_daily_store d
    WHERE d.employee_id = e AND d.bucket >= lo AND d.bucket < least(hi, stored_until)
      AND NOT EXISTS (SELECT 1 FROM rollup_invalid_days v WHERE v.day = d.bucket);
    IF EXISTS (SELECT 1 FROM rollup_invalid_days v
               WHERE v.day >= date_trunc('day', lo, 'UTC') AND v.day < least(hi, stored_until)) THEN
        -- Rare (until the next refresh): the hours of the whole window,
        -- for the invalidated days among them.
        hours_from := lo;
    ELSIF hi > stored_until THEN
        hours_from := greatest(lo, stored_until);
    ELSE
        RETURN;
    END IF;
    -- The days of the watermark and after, and the invalidated days.
    RETURN QUERY
    SELECT date_trunc('day', h.bucket, 'UTC'), e, h.team, sum(h.samples)::bigint,
           sum(h.degree_centrality_sum), sum(h.betweenness_centrality_sum),
           sum(h.clustering_coeff_sum), sum(h.burnout_score_sum), max(h.burnout_score_max)
    FROM employee_hours(e, hours_from, hi) h
    WHERE h.bucket >= stored_until
       OR date_trunc('day', h.bucket, 'UTC') IN (SELECT v.day FROM rollup_invalid_days v)
    GROUP BY 1, 2, 3;
END
$$;

-- team_member_days_read (version 14) read the day of the watermark and
-- after through team_member_days (version 10), whose raw parts reach the
-- watermark through rollup_state and are planned with every partition
-- (once per connection: the team trend's p99). Now: the stored hours of
-- that day from the store, and the raw hours (after the watermark, and the
-- day's invalidated hours) through EXECUTE with their bounds as constants.
-- The team's employees among the raw rows first, then each one's hours,
-- kept when the hour's team is the team (an hour's team is its last
-- sample's), as version 10 does.
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
         FROM (SELECT DISTINCT m.employee_id FROM metrics_between($2, $3) m WHERE m.team = $1) e
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
