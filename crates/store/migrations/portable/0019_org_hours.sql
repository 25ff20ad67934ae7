-- Version 19 (portable): the organisation's hours, planned with the bounds
-- of the raw rows they read (as version 17 does for an employee's hours).
--
-- The view metrics_hourly_org reaches the raw rows after the watermark
-- through a join with rollup_state, so the statistics' prepared statement
-- was planned with every raw and packed partition the first time on each
-- connection, and visited every partition's index when it ran (the
-- statistics' p99). org_hours reads the stored hours that are not
-- invalidated, and the hours after the watermark and the invalidated hours
-- from raw rows through EXECUTE with their bounds as constants.
CREATE OR REPLACE FUNCTION org_hours(lo timestamptz, hi timestamptz)
RETURNS TABLE (bucket timestamptz, samples bigint,
               degree_centrality_sum double precision, degree_centrality_sumsq double precision, degree_centrality_min double precision, degree_centrality_max double precision,
               betweenness_centrality_sum double precision, betweenness_centrality_sumsq double precision, betweenness_centrality_min double precision, betweenness_centrality_max double precision,
               clustering_coeff_sum double precision, clustering_coeff_sumsq double precision, clustering_coeff_min double precision, clustering_coeff_max double precision,
               burnout_score_sum double precision, burnout_score_sumsq double precision, burnout_score_min double precision, burnout_score_max double precision)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    w timestamptz;
    invalid timestamptz;
BEGIN
    SELECT s.watermark INTO w FROM rollup_state s;
    RETURN QUERY
    SELECT o.* FROM metrics_hourly_org_store o
    WHERE o.bucket >= lo AND o.bucket < least(hi, w)
      AND NOT EXISTS (SELECT 1 FROM rollup_invalidations i WHERE i.bucket = o.bucket);
    IF hi > w THEN
        RETURN QUERY EXECUTE
            'SELECT r.* FROM org_hours_from_raw($1, $2) r WHERE r.bucket >= $3 AND r.bucket < $4'
        USING greatest(w, date_trunc('hour', lo)), date_trunc('hour', hi) + INTERVAL '1 hour', lo, hi;
    END IF;
    FOR invalid IN
        SELECT i.bucket FROM rollup_invalidations i
        WHERE i.bucket >= lo AND i.bucket < least(hi, w) ORDER BY i.bucket
    LOOP
        RETURN QUERY EXECUTE
            'SELECT r.* FROM org_hours_from_raw($1, $1 + INTERVAL ''1 hour'') r'
        USING invalid;
    END LOOP;
END
$$;
