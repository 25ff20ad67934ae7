-- Version 19 (timescale): the name the store reads the organisation's
-- hours by on both engines (the portable engine's version plans its raw
-- reads with their bounds as constants); here the view over the hourly
-- organisation aggregate and its backfill.
CREATE OR REPLACE FUNCTION org_hours(lo timestamptz, hi timestamptz)
RETURNS TABLE (bucket timestamptz, samples bigint,
               degree_centrality_sum double precision, degree_centrality_sumsq double precision, degree_centrality_min double precision, degree_centrality_max double precision,
               betweenness_centrality_sum double precision, betweenness_centrality_sumsq double precision, betweenness_centrality_min double precision, betweenness_centrality_max double precision,
               clustering_coeff_sum double precision, clustering_coeff_sumsq double precision, clustering_coeff_min double precision, clustering_coeff_max double precision,
               burnout_score_sum double precision, burnout_score_sumsq double precision, burnout_score_min double precision, burnout_score_max double precision)
LANGUAGE sql STABLE AS $$
    SELECT o.* FROM metrics_hourly_org o WHERE o.bucket >= lo AND o.bucket < hi
$$;
