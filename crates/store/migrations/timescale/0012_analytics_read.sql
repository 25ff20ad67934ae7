-- Version 12: the analytics' read of the whole organisation (issue 17).
--
--   member_days(lo, hi)   every (UTC day, employee, team) part in [lo, hi),
--                         real-time hours included (rows per part: the
--                         caller sums per day, employee and team)
--
-- The daily continuous aggregate (real time) and the days rolled up from
-- backfilled samples, as team_member_days reads them for one team.
CREATE OR REPLACE FUNCTION member_days(lo timestamptz, hi timestamptz)
RETURNS TABLE (bucket timestamptz, employee_id text, team text, samples bigint,
               degree_centrality_sum double precision, betweenness_centrality_sum double precision,
               clustering_coeff_sum double precision, burnout_score_sum double precision,
               burnout_score_max double precision)
LANGUAGE sql STABLE AS $$
    SELECT d.bucket, d.employee_id, d.team, d.samples, d.degree_centrality_sum,
           d.betweenness_centrality_sum, d.clustering_coeff_sum, d.burnout_score_sum,
           d.burnout_score_max
    FROM employee_team_daily d
    WHERE d.bucket >= lo AND d.bucket < hi
    UNION ALL
    SELECT b.bucket, b.employee_id, b.team, b.samples, b.degree_centrality_sum,
           b.betweenness_centrality_sum, b.clustering_coeff_sum, b.burnout_score_sum,
           b.burnout_score_max
    FROM employee_team_daily_backfill b
    WHERE b.bucket >= lo AND b.bucket < hi
$$;

-- One employee's parts, through an index (a forecast or an effect reads
-- 90 rows instead of 2,160 hours).
CREATE INDEX IF NOT EXISTS employee_team_daily_employee
    ON employee_team_daily (employee_id, bucket);
CREATE INDEX IF NOT EXISTS employee_team_daily_backfill_employee
    ON employee_team_daily_backfill (employee_id, bucket);

CREATE OR REPLACE FUNCTION employee_member_days(e text, lo timestamptz, hi timestamptz)
RETURNS TABLE (bucket timestamptz, employee_id text, team text, samples bigint,
               degree_centrality_sum double precision, betweenness_centrality_sum double precision,
               clustering_coeff_sum double precision, burnout_score_sum double precision,
               burnout_score_max double precision)
LANGUAGE sql STABLE AS $$
    SELECT d.bucket, d.employee_id, d.team, d.samples, d.degree_centrality_sum,
           d.betweenness_centrality_sum, d.clustering_coeff_sum, d.burnout_score_sum,
           d.burnout_score_max
    FROM employee_team_daily d
    WHERE d.employee_id = e AND d.bucket >= lo AND d.bucket < hi
    UNION ALL
    SELECT b.bucket, b.employee_id, b.team, b.samples, b.degree_centrality_sum,
           b.betweenness_centrality_sum, b.clustering_coeff_sum, b.burnout_score_sum,
           b.burnout_score_max
    FROM employee_team_daily_backfill b
    WHERE b.employee_id = e AND b.bucket >= lo AND b.bucket < hi
$$;
