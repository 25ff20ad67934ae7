-- Version 17 (timescale): the name the store reads one employee's hours by
-- on both engines (the portable engine's version plans its raw reads with
-- their bounds as constants). Here the hourly continuous aggregate and its
-- backfill, through the view employee_metrics_hourly, are the hours.
CREATE OR REPLACE FUNCTION employee_hours(e text, lo timestamptz, hi timestamptz)
RETURNS TABLE (bucket timestamptz, team text, samples bigint,
               degree_centrality_sum double precision, betweenness_centrality_sum double precision,
               clustering_coeff_sum double precision, burnout_score_sum double precision,
               burnout_score_min double precision, burnout_score_max double precision)
LANGUAGE sql STABLE AS $$
    SELECT h.bucket, h.team, h.samples, h.degree_centrality_sum, h.betweenness_centrality_sum,
           h.clustering_coeff_sum, h.burnout_score_sum, h.burnout_score_min, h.burnout_score_max
    FROM employee_metrics_hourly h
    WHERE h.employee_id = e AND h.bucket >= lo AND h.bucket < hi
$$;
