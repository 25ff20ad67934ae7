-- Version 22 (both engines): an employee's raw samples, and the burnout
-- alerts' windows, planned with their bounds.
--
-- Reads go through prepared statements with generic plans (pool.rs), and
-- a generic plan over metrics_between(lo, hi) is made with every raw
-- partition or chunk (and every packed partition on portable), because
-- the bounds are parameters: 27-140 ms the first time it runs on each
-- pooled connection at 10,000 employees × 90 days, and again after every
-- partition or chunk is added, dropped or packed (which invalidates the
-- plans). Those first runs were the p99 of the raw trend and of the
-- alerts. As in version 17, these functions plan their query through
-- EXECUTE with the bounds as values, so that only the partitions of the
-- window are planned and read.

-- Employee e's samples with lo <= time < hi, raw or packed. The caller
-- orders them (a function's rows have no order of their own).
CREATE OR REPLACE FUNCTION employee_samples(e text, lo timestamptz, hi timestamptz)
RETURNS TABLE ("time" timestamptz, team text, degree_centrality double precision,
               betweenness_centrality double precision, clustering_coeff double precision,
               burnout_score double precision)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY EXECUTE
        'SELECT m.time, m.team, m.degree_centrality, m.betweenness_centrality,
                m.clustering_coeff, m.burnout_score
         FROM metrics_between($2, $3) m
         WHERE m.employee_id = $1'
    USING e, lo, hi;
END
$$;

-- The employees whose latest sample is at or after lo with a burnout
-- score at or above threshold, with the peak, average and count of their
-- scores since lo. The caller orders them.
CREATE OR REPLACE FUNCTION burnout_alerts_since(lo timestamptz, threshold double precision)
RETURNS TABLE (employee_id text, team text, burnout_score double precision, "time" timestamptz,
               peak double precision, average double precision, samples bigint)
LANGUAGE plpgsql STABLE AS $$
BEGIN
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
END
$$;
