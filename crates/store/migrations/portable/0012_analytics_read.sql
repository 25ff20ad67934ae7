-- Version 12: the analytics' read of the whole organisation (issue 17).
--
--   member_days(lo, hi)   every (UTC day, employee, team) part in [lo, hi),
--                         real-time hours included (rows per part: the
--                         caller sums per day, employee and team)
--   employee_member_days(e, lo, hi)   the same of one employee, through an
--                         index on the daily store (a forecast or an effect
--                         reads 90 rows instead of 2,160 hours)
--
-- The whole days the daily store holds come from it; the day of the
-- watermark, the days after it and the days with an invalidated hour come
-- from the hourly rollup's view, which adds the real-time hours. The
-- analytics read whole days before today, which the store alone holds once
-- the rollup is refreshed: then only the store is read (plpgsql, so that
-- the view's real-time parts are not even planned; a read of 900,000
-- member-days through the view took seconds).
CREATE OR REPLACE FUNCTION member_days(lo timestamptz, hi timestamptz)
RETURNS TABLE (bucket timestamptz, employee_id text, team text, samples bigint,
               degree_centrality_sum double precision, betweenness_centrality_sum double precision,
               clustering_coeff_sum double precision, burnout_score_sum double precision,
               burnout_score_max double precision)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    stored_until timestamptz;
    invalid boolean;
BEGIN
    SELECT date_trunc('day', watermark, 'UTC') INTO stored_until FROM rollup_state;
    SELECT EXISTS (SELECT 1 FROM rollup_invalid_days v
                   WHERE v.day >= date_trunc('day', lo, 'UTC') AND v.day < least(hi, stored_until))
    INTO invalid;
    IF NOT invalid THEN
        RETURN QUERY
        SELECT d.bucket, d.employee_id, d.team, d.samples, d.degree_centrality_sum,
               d.betweenness_centrality_sum, d.clustering_coeff_sum, d.burnout_score_sum,
               d.burnout_score_max
        FROM employee_team_daily_store d
        WHERE d.bucket >= lo AND d.bucket < least(hi, stored_until);
    ELSE
    RETURN QUERY
    SELECT d.bucket, d.employee_id, d.team, d.samples, d.degree_centrality_sum,
           d.betweenness_centrality_sum, d.clustering_coeff_sum, d.burnout_score_sum,
           d.burnout_score_max
    FROM employee_team_daily_store d
    WHERE d.bucket >= lo AND d.bucket < least(hi, stored_until)
      AND NOT EXISTS (SELECT 1 FROM rollup_invalid_days v WHERE v.day = d.bucket);
    END IF;
    IF hi > stored_until THEN
        RETURN QUERY
        SELECT date_trunc('day', h.bucket, 'UTC'), h.employee_id, h.team, sum(h.samples)::bigint,
               sum(h.degree_centrality_sum), sum(h.betweenness_centrality_sum),
               sum(h.clustering_coeff_sum), sum(h.burnout_score_sum), max(h.burnout_score_max)
        FROM employee_metrics_hourly h
        WHERE h.bucket >= greatest(lo, stored_until) AND h.bucket < hi
        GROUP BY 1, 2, 3;
    END IF;
    IF invalid THEN
        RETURN QUERY
        SELECT v.day, h.employee_id, h.team, sum(h.samples)::bigint,
               sum(h.degree_centrality_sum), sum(h.betweenness_centrality_sum),
               sum(h.clustering_coeff_sum), sum(h.burnout_score_sum), max(h.burnout_score_max)
        FROM rollup_invalid_days v
        JOIN employee_metrics_hourly h
          ON h.bucket >= v.day AND h.bucket < v.day + INTERVAL '1 day'
        WHERE v.day >= date_trunc('day', lo, 'UTC') AND v.day < least(hi, stored_until)
          AND h.bucket >= lo AND h.bucket < hi
        GROUP BY 1, 2, 3;
    END IF;
END
$$;

CREATE INDEX IF NOT EXISTS employee_team_daily_store_employee
    ON employee_team_daily_store (employee_id, bucket);

CREATE OR REPLACE FUNCTION employee_member_days(e text, lo timestamptz, hi timestamptz)
RETURNS TABLE (bucket timestamptz, employee_id text, team text, samples bigint,
               degree_centrality_sum double precision, betweenness_centrality_sum double precision,
               clustering_coeff_sum double precision, burnout_score_sum double precision,
               burnout_score_max double precision)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    stored_until timestamptz;
BEGIN
    SELECT date_trunc('day', watermark, 'UTC') INTO stored_until FROM rollup_state;
    RETURN QUERY
    SELECT d.bucket, d.employee_id, d.team, d.samples, d.degree_centrality_sum,
           d.betweenness_centrality_sum, d.clustering_coeff_sum, d.burnout_score_sum,
           d.burnout_score_max
    FROM employee_team_daily_store d
    WHERE d.employee_id = e AND d.bucket >= lo AND d.bucket < least(hi, stored_until)
      AND NOT EXISTS (SELECT 1 FROM rollup_invalid_days v WHERE v.day = d.bucket);
    -- The day of the watermark and after, and the days with an invalidated
    -- hour, from the hourly rollup's view (only when there are any: the
    -- view costs more to plan than the store to read).
    IF hi <= stored_until AND NOT EXISTS (
        SELECT 1 FROM rollup_invalid_days v
        WHERE v.day >= date_trunc('day', lo, 'UTC') AND v.day < hi) THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT date_trunc('day', h.bucket, 'UTC'), h.employee_id, h.team, sum(h.samples)::bigint,
           sum(h.degree_centrality_sum), sum(h.betweenness_centrality_sum),
           sum(h.clustering_coeff_sum), sum(h.burnout_score_sum), max(h.burnout_score_max)
    FROM employee_metrics_hourly h
    WHERE h.employee_id = e AND h.bucket >= lo AND h.bucket < hi
      AND (h.bucket >= stored_until
           OR date_trunc('day', h.bucket, 'UTC') IN (SELECT v.day FROM rollup_invalid_days v))
    GROUP BY 1, 2, 3;
END
$$;
