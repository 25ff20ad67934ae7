-- Version 30 (portable): the burnout alerts' window statistics from the
-- hourly store.
--
-- Version 22 read each flagged employee's peak, average and count over the
-- window from raw rows: at 15 minutes, 672 rows over 8 daily partitions per
-- employee for 7 days (0.3-1 ms each, 150 flagged employees at a threshold
-- of 70 on 10,000). The whole hours of the window that are materialised
-- are now read from the hourly store's covering key instead (168 rows of a
-- few index pages per employee), and only the rest from raw rows: the
-- window's first, partial hour, the hours after the watermark, and, when
-- one of the window's hours is invalidated, the whole window (an
-- invalidation lasts until the next refresh, and a window over raw rows is
-- what version 22 read).
--
-- The same samples are counted as before. Stored hours are used only from
-- the day after lifecycle_state.raw_kept_from: retention keeps the rollup
-- from an hour and the raw rows from the start of that hour's day, so on
-- the first kept day an hour may have raw rows and no stored row (the
-- batch writer's keep_new_hours uses the same bound); before raw_kept_from
-- there are no raw rows, so nothing there was counted before either.
CREATE OR REPLACE FUNCTION burnout_alerts_since(lo timestamptz, threshold double precision)
RETURNS TABLE (employee_id text, team text, burnout_score double precision, "time" timestamptz,
               peak double precision, average double precision, samples bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    w timestamptz;
    a timestamptz;
BEGIN
    SELECT s.watermark INTO w FROM rollup_state s;
    SELECT greatest(date_trunc('hour', lo)
                    + CASE WHEN date_trunc('hour', lo) = lo THEN INTERVAL '0' ELSE INTERVAL '1 hour' END,
                    l.raw_kept_from + INTERVAL '1 day')
    INTO a FROM lifecycle_state l;
    IF w IS NULL OR a IS NULL OR a >= w OR EXISTS (
        SELECT 1 FROM rollup_invalidations i WHERE i.bucket >= a AND i.bucket < w
    ) THEN
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
    RETURN QUERY EXECUTE
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
             FROM employee_metrics_hourly_store h
             WHERE h.employee_id = f.employee_id AND h.bucket >= $3 AND h.bucket < $4
             UNION ALL
             SELECT max(m.burnout_score), sum(m.burnout_score), count(*)::numeric
             FROM metrics_between($4, ''infinity'') m
             WHERE m.employee_id = f.employee_id) s
         WHERE f.time >= $1 AND f.burnout_score >= $2
         GROUP BY f.employee_id, f.team, f.burnout_score, f.time'
    USING lo, threshold, a, w;
END
$$;
