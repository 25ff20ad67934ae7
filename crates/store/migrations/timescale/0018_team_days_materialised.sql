-- Version 18 (timescale): a team's member-days read from the continuous
-- aggregates' materialised rows, and its raw hours planned with their
-- bounds.
--
-- employee_team_daily is real time: its view adds the days from its
-- watermark on, aggregated from the hourly aggregate, itself real time over
-- the raw hypertable. Neither the caller's bucket bounds nor the team
-- filter reach the raw scan under the two aggregations (an hour's team is
-- its last sample's), so every read of a team, even of days long
-- materialised, aggregated every employee's raw rows since the hourly
-- watermark (102,000 buffers, 80 ms at 10,000 employees; a team's
-- forecast took 347 ms at p50, its 730-day trend 339 ms). What the views
-- return is, exactly:
--   * days before the daily watermark: the daily aggregate's materialised
--     rows;
--   * later hours before the hourly watermark: the hourly aggregate's
--     materialised rows, summed per day (what the daily view's real-time
--     part computes);
--   * hours after the hourly watermark: the raw rows' hours;
--   * and the daily backfill (migration 11) for every day.
-- This function reads those four, the materialised hypertables through
-- their (team, bucket) indexes (the hourly one is made here), found in
-- TimescaleDB's catalog, and the raw hours through EXECUTE, planned with
-- their bounds as constants: the team's employees among the raw rows, then
-- each one's hours, kept when the hour's team is the team.
CREATE INDEX IF NOT EXISTS employee_metrics_hourly_cagg_team
    ON employee_metrics_hourly_cagg (team, bucket);

-- A continuous aggregate of this schema: its materialised hypertable (a
-- quoted name) and its watermark; nulls when there is no such aggregate.
CREATE OR REPLACE FUNCTION cagg_materialised(view_name text, OUT hypertable text, OUT watermark timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT format('%I.%I', h.schema_name, h.table_name),
           _timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark(c.mat_hypertable_id))
    FROM _timescaledb_catalog.continuous_agg c
    JOIN _timescaledb_catalog.hypertable h ON h.id = c.mat_hypertable_id
    WHERE c.user_view_name = view_name AND c.user_view_schema = current_schema()
$$;

CREATE OR REPLACE FUNCTION team_member_days_read(t text, lo timestamptz, hi timestamptz)
RETURNS TABLE (bucket timestamptz, employee_id text, samples bigint,
               degree_centrality_sum double precision, betweenness_centrality_sum double precision,
               clustering_coeff_sum double precision, burnout_score_sum double precision,
               burnout_score_max double precision)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    daily text;
    daily_until timestamptz;
    hourly text;
    hourly_until timestamptz;
BEGIN
    SELECT m.hypertable, m.watermark INTO daily, daily_until
    FROM cagg_materialised('employee_team_daily') m;
    SELECT m.hypertable, m.watermark INTO hourly, hourly_until
    FROM cagg_materialised('employee_metrics_hourly_cagg') m;
    IF daily IS NULL OR hourly IS NULL OR daily_until IS NULL OR hourly_until IS NULL
       OR hourly_until < daily_until THEN
        RETURN QUERY SELECT * FROM team_member_days(t, lo, hi);
        RETURN;
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT d.bucket, d.employee_id, d.samples, d.degree_centrality_sum,
                d.betweenness_centrality_sum, d.clustering_coeff_sum, d.burnout_score_sum,
                d.burnout_score_max
         FROM %s d WHERE d.team = $1 AND d.bucket >= $2 AND d.bucket < $3', daily)
    USING t, lo, least(hi, daily_until);
    IF hi > daily_until THEN
        RETURN QUERY EXECUTE format(
            'SELECT time_bucket(INTERVAL ''1 day'', h.bucket), h.employee_id, sum(h.samples)::bigint,
                    sum(h.degree_centrality_sum), sum(h.betweenness_centrality_sum),
                    sum(h.clustering_coeff_sum), sum(h.burnout_score_sum), max(h.burnout_score_max)
             FROM %s h WHERE h.team = $1 AND h.bucket >= $2 AND h.bucket < $3
             GROUP BY 1, 2', hourly)
        USING t, greatest(lo, daily_until), least(hi, hourly_until);
    END IF;
    IF hi > hourly_until THEN
        RETURN QUERY EXECUTE
            'SELECT time_bucket(INTERVAL ''1 day'', r.bucket), r.employee_id, sum(r.samples)::bigint,
                    sum(r.degree_centrality_sum), sum(r.betweenness_centrality_sum),
                    sum(r.clustering_coeff_sum), sum(r.burnout_score_sum), max(r.burnout_score_max)
             FROM (SELECT DISTINCT m.employee_id FROM employee_metrics m
                   WHERE m.team = $1 AND m.time >= $2 AND m.time < $3) e
             CROSS JOIN LATERAL (
                 SELECT * FROM hourly_from_raw($2, $3) x
                 WHERE x.employee_id = e.employee_id
                 OFFSET 0) r
             WHERE r.team = $1
             GROUP BY 1, 2'
        USING t, greatest(lo, hourly_until), hi;
    END IF;
    RETURN QUERY
    SELECT b.bucket, b.employee_id, b.samples, b.degree_centrality_sum, b.betweenness_centrality_sum,
           b.clustering_coeff_sum, b.burnout_score_sum, b.burnout_score_max
    FROM employee_team_daily_backfill b
    WHERE b.team = t AND b.bucket >= lo AND b.bucket < hi;
END
$$;
