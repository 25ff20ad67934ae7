-- Version 24 (timescale): one employee's hours from the hourly aggregate's
-- materialised hypertable, as a team's days are since version 18.
--
-- employee_hours (version 17) read the real-time view. A prepared read of
-- it is planned with every chunk of the materialised hypertable and of the
-- raw hypertable, and TimescaleDB invalidates that plan at every refresh
-- (the watermark is a constant in it), so every connection planned it
-- again after each refresh: the hourly trend's p99 (57.6 ms against 16.2
-- at p50 over 10,000 employees × 90 days). Now the hours before the
-- watermark come from the materialised hypertable by its (employee_id,
-- bucket) index, the hours after it from raw rows, each through EXECUTE
-- with its bounds as values, and the backfill from its table: the rows of
-- the view, in the same snapshot (version 23).
CREATE OR REPLACE FUNCTION employee_hours(e text, lo timestamptz, hi timestamptz)
RETURNS TABLE (bucket timestamptz, team text, samples bigint,
               degree_centrality_sum double precision, betweenness_centrality_sum double precision,
               clustering_coeff_sum double precision, burnout_score_sum double precision,
               burnout_score_min double precision, burnout_score_max double precision)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    hourly text;
    hourly_until timestamptz;
BEGIN
    SELECT m.hypertable, m.watermark INTO hourly, hourly_until
    FROM cagg_materialised('employee_metrics_hourly_cagg') m;
    IF hourly IS NULL OR hourly_until IS NULL THEN
        RETURN QUERY
        SELECT h.bucket, h.team, h.samples, h.degree_centrality_sum, h.betweenness_centrality_sum,
               h.clustering_coeff_sum, h.burnout_score_sum, h.burnout_score_min, h.burnout_score_max
        FROM employee_metrics_hourly h
        WHERE h.employee_id = e AND h.bucket >= lo AND h.bucket < hi;
        RETURN;
    END IF;
    IF lo < hourly_until THEN
        RETURN QUERY EXECUTE format(
            'SELECT h.bucket, h.team, h.samples, h.degree_centrality_sum, h.betweenness_centrality_sum,
                    h.clustering_coeff_sum, h.burnout_score_sum, h.burnout_score_min, h.burnout_score_max
             FROM %s h WHERE h.employee_id = $1 AND h.bucket >= $2 AND h.bucket < $3', hourly)
        USING e, lo, least(hi, hourly_until);
    END IF;
    -- An hour is in [lo, hi) when its start is: the raw rows of the hours
    -- from lo's hour to hi's, the partial hours filtered out after.
    IF hi > hourly_until THEN
        RETURN QUERY EXECUTE
            'SELECT r.bucket, r.team, r.samples, r.degree_centrality_sum, r.betweenness_centrality_sum,
                    r.clustering_coeff_sum, r.burnout_score_sum, r.burnout_score_min, r.burnout_score_max
             FROM hourly_from_raw($2, $3) r
             WHERE r.employee_id = $1 AND r.bucket >= $4 AND r.bucket < $5'
        USING e, greatest(hourly_until, date_trunc('hour', lo, 'UTC')),
              date_trunc('hour', hi, 'UTC') + INTERVAL '1 hour', greatest(lo, hourly_until), hi;
    END IF;
    RETURN QUERY
    SELECT b.bucket, b.team, b.samples, b.degree_centrality_sum, b.betweenness_centrality_sum,
           b.clustering_coeff_sum, b.burnout_score_sum, b.burnout_score_min, b.burnout_score_max
    FROM employee_metrics_hourly_backfill b
    WHERE b.employee_id = e AND b.bucket >= lo AND b.bucket < hi;
END
$$;
