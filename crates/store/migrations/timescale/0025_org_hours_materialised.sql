-- Version 25 (timescale): the organisation's hours from the hourly
-- organisation aggregate's materialised hypertable, as an employee's hours
-- are since version 24.
--
-- org_hours (version 19) read the real-time view metrics_hourly_org: its
-- prepared read was planned with every chunk of both hypertables and
-- planned again after each refresh, and the statistics' p99 went with
-- when the plans were remade (23.8 and 57.1 ms at p99 in two runs over
-- 10,000 employees × 90 days). Now the hours before the watermark come
-- from the materialised hypertable, the later ones from raw rows, each
-- through EXECUTE with its bounds as values, and the backfill from its
-- table. An hour held both by the aggregate and by the backfill comes as
-- two rows, as the view's parts are before it sums them: the statistics,
-- the one reader, sum every row.
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
BEGIN
    SELECT m.hypertable, m.watermark INTO org, org_until
    FROM cagg_materialised('metrics_hourly_org_cagg') m;
    IF org IS NULL OR org_until IS NULL THEN
        RETURN QUERY SELECT o.* FROM metrics_hourly_org o WHERE o.bucket >= lo AND o.bucket < hi;
        RETURN;
    END IF;
    IF lo < org_until THEN
        RETURN QUERY EXECUTE format(
            'SELECT o.bucket, o.samples, o.degree_centrality_sum, o.degree_centrality_sumsq, o.degree_centrality_min, o.degree_centrality_max, o.betweenness_centrality_sum, o.betweenness_centrality_sumsq, o.betweenness_centrality_min, o.betweenness_centrality_max, o.clustering_coeff_sum, o.clustering_coeff_sumsq, o.clustering_coeff_min, o.clustering_coeff_max, o.burnout_score_sum, o.burnout_score_sumsq, o.burnout_score_min, o.burnout_score_max
             FROM %s o WHERE o.bucket >= $1 AND o.bucket < $2', org)
        USING lo, least(hi, org_until);
    END IF;
    -- An hour is in [lo, hi) when its start is: the raw rows of the hours
    -- from lo's hour to hi's, the partial hours filtered out after.
    IF hi > org_until THEN
        RETURN QUERY EXECUTE
            'SELECT r.* FROM (
                 SELECT time_bucket(INTERVAL ''1 hour'', m.time) AS bucket, count(*)::bigint,
                        sum(m.degree_centrality), sum(m.degree_centrality * m.degree_centrality), min(m.degree_centrality), max(m.degree_centrality),
                    sum(m.betweenness_centrality), sum(m.betweenness_centrality * m.betweenness_centrality), min(m.betweenness_centrality), max(m.betweenness_centrality),
                    sum(m.clustering_coeff), sum(m.clustering_coeff * m.clustering_coeff), min(m.clustering_coeff), max(m.clustering_coeff),
                    sum(m.burnout_score), sum(m.burnout_score * m.burnout_score), min(m.burnout_score), max(m.burnout_score)
                 FROM employee_metrics m
                 WHERE m.time >= $1 AND m.time < $2
                 GROUP BY 1) r
             WHERE r.bucket >= $3 AND r.bucket < $4'
        USING greatest(org_until, date_trunc('hour', lo, 'UTC')),
              date_trunc('hour', hi, 'UTC') + INTERVAL '1 hour', greatest(lo, org_until), hi;
    END IF;
    RETURN QUERY
    SELECT b.bucket, b.samples, b.degree_centrality_sum, b.degree_centrality_sumsq, b.degree_centrality_min, b.degree_centrality_max, b.betweenness_centrality_sum, b.betweenness_centrality_sumsq, b.betweenness_centrality_min, b.betweenness_centrality_max, b.clustering_coeff_sum, b.clustering_coeff_sumsq, b.clustering_coeff_min, b.clustering_coeff_max, b.burnout_score_sum, b.burnout_score_sumsq, b.burnout_score_min, b.burnout_score_max
    FROM metrics_hourly_org_backfill b
    WHERE b.bucket >= lo AND b.bucket < hi;
END
$$;
