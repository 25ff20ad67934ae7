-- Version 26 (timescale): the burnout alerts' window statistics from the
-- hourly aggregate's materialised hypertable, as portable's version 30
-- reads them from its hourly store.
--
-- Version 22 read each flagged employee's peak, average and count over the
-- window from raw rows (672 per employee for 7 days at 15 minutes). The
-- window's whole hours below the aggregate's watermark now come from the
-- materialised hypertable by its (employee_id, bucket) index, as
-- employee_hours does since version 24, and only the rest from raw rows:
-- the first, partial hour and the hours from the watermark on.
--
-- The same samples are counted as before:
--   * stored hours only from the day after lifecycle_state.raw_kept_from
--     (before it there are no raw rows; see portable's version 30);
--   * when TimescaleDB holds an invalidation of the raw hypertable or of
--     the hourly aggregate that reaches into those hours (a write whose
--     refresh has not run yet, or failed: after_write refreshes after each
--     write), the whole window is read from raw rows, as before. The logs
--     hold TimescaleDB's internal time (microseconds since the Unix epoch).
CREATE OR REPLACE FUNCTION burnout_alerts_since(lo timestamptz, threshold double precision)
RETURNS TABLE (employee_id text, team text, burnout_score double precision, "time" timestamptz,
               peak double precision, average double precision, samples bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    hourly text;
    w timestamptz;
    a timestamptz;
    pending boolean;
BEGIN
    SELECT m.hypertable, m.watermark INTO hourly, w
    FROM cagg_materialised('employee_metrics_hourly_cagg') m;
    SELECT greatest(date_trunc('hour', lo, 'UTC')
                    + CASE WHEN date_trunc('hour', lo, 'UTC') = lo THEN INTERVAL '0' ELSE INTERVAL '1 hour' END,
                    l.raw_kept_from + INTERVAL '1 day')
    INTO a FROM lifecycle_state l;
    IF hourly IS NOT NULL AND w IS NOT NULL AND a IS NOT NULL AND a < w THEN
        SELECT EXISTS (
                   SELECT 1 FROM _timescaledb_catalog.continuous_aggs_hypertable_invalidation_log i
                   JOIN _timescaledb_catalog.continuous_agg c ON c.raw_hypertable_id = i.hypertable_id
                   WHERE c.user_view_name = 'employee_metrics_hourly_cagg'
                     AND c.user_view_schema = current_schema()
                     AND i.lowest_modified_value < _timescaledb_functions.to_unix_microseconds(w)
                     AND i.greatest_modified_value >= _timescaledb_functions.to_unix_microseconds(a))
            OR EXISTS (
                   SELECT 1 FROM _timescaledb_catalog.continuous_aggs_materialization_invalidation_log i
                   JOIN _timescaledb_catalog.continuous_agg c ON c.mat_hypertable_id = i.materialization_id
                   WHERE c.user_view_name = 'employee_metrics_hourly_cagg'
                     AND c.user_view_schema = current_schema()
                     AND i.lowest_modified_value < _timescaledb_functions.to_unix_microseconds(w)
                     AND i.greatest_modified_value >= _timescaledb_functions.to_unix_microseconds(a))
        INTO pending;
    END IF;
    IF hourly IS NULL OR w IS NULL OR a IS NULL OR a >= w OR pending THEN
        RETURN QUERY EXECUTE
            'SELECT f.employee_id, f.team, f.burnout_score, f.time, s.peak, s.average, s.samples
             FROM employee_latest f
             CROSS JOIN LATERAL (
                 SELECT max(m.burnout_score) AS peak, avg(m.burnout_score) AS average,
                        count(*) AS samples
                 FROM metrics_between($1, ''infinity'') m
                 WHERE m.employee_id = f.employee_id) s
             WHERE f.time >= $1 AND f.burnout_score >= $2'
        USING lo, threshold;
        RETURN;
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT f.employee_id, f.team, f.burnout_score, f.time, max(s.peak),
                sum(s.total) / sum(s.n)::double precision, sum(s.n)::bigint
         FROM employee_latest f
         CROSS JOIN LATERAL (
             SELECT max(m.burnout_score) AS peak, sum(m.burnout_score) AS total,
                    count(*)::numeric AS n
             FROM metrics_between($1, $3) m
             WHERE m.employee_id = f.employee_id
             UNION ALL
             SELECT max(h.burnout_score_max), sum(h.burnout_score_sum), sum(h.samples)
             FROM %s h
             WHERE h.employee_id = f.employee_id AND h.bucket >= $3 AND h.bucket < $4
             UNION ALL
             SELECT max(m.burnout_score), sum(m.burnout_score), count(*)::numeric
             FROM metrics_between($4, ''infinity'') m
             WHERE m.employee_id = f.employee_id) s
         WHERE f.time >= $1 AND f.burnout_score >= $2
         GROUP BY f.employee_id, f.team, f.burnout_score, f.time', hourly)
    USING lo, threshold, a, w;
END
$$;
