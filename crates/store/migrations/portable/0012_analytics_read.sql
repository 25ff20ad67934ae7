-- Version 12: the analytics' read of the whole organisation (issue 17).
--
--   member_days(lo, hi)   every (UTC day, employee, team) part in [lo, hi),
--                         real-time hours included (rows per part: the
--                         caller sums per day, employee and team)
--
-- The whole days the daily store holds come from it; the day of the
-- watermark, the days after it and the days with an invalidated hour come
-- from the hourly rollup's view, which adds the real-time hours.
CREATE OR REPLACE FUNCTION member_days(lo timestamptz, hi timestamptz)
RETURNS TABLE (bucket timestamptz, employee_id text, team text, samples bigint,
               degree_centrality_sum double precision, betweenness_centrality_sum double precision,
               clustering_coeff_sum double precision, burnout_score_sum double precision,
               burnout_score_max double precision)
LANGUAGE sql STABLE AS $$
    SELECT d.bucket, d.employee_id, d.team, d.samples, d.degree_centrality_sum,
           d.betweenness_centrality_sum, d.clustering_coeff_sum, d.burnout_score_sum,
           d.burnout_score_max
    FROM employee_team_daily_store d
    WHERE d.bucket >= lo AND d.bucket < hi
      AND d.bucket < (SELECT date_trunc('day', watermark, 'UTC') FROM rollup_state)
      AND NOT EXISTS (SELECT 1 FROM rollup_invalid_days v WHERE v.day = d.bucket)
    UNION ALL
    SELECT date_trunc('day', h.bucket, 'UTC'), h.employee_id, h.team, sum(h.samples)::bigint,
           sum(h.degree_centrality_sum), sum(h.betweenness_centrality_sum),
           sum(h.clustering_coeff_sum), sum(h.burnout_score_sum), max(h.burnout_score_max)
    FROM employee_metrics_hourly h
    WHERE h.bucket >= greatest(lo, (SELECT date_trunc('day', watermark, 'UTC') FROM rollup_state))
      AND h.bucket < hi
    GROUP BY 1, 2, 3
    UNION ALL
    SELECT v.day, h.employee_id, h.team, sum(h.samples)::bigint,
           sum(h.degree_centrality_sum), sum(h.betweenness_centrality_sum),
           sum(h.clustering_coeff_sum), sum(h.burnout_score_sum), max(h.burnout_score_max)
    FROM rollup_invalid_days v
    JOIN employee_metrics_hourly h
      ON h.bucket >= v.day AND h.bucket < v.day + INTERVAL '1 day'
    WHERE v.day >= date_trunc('day', lo, 'UTC') AND v.day < hi
      AND h.bucket >= lo AND h.bucket < hi
    GROUP BY 1, 2, 3
$$;
