-- Version 11: the read interface both engines define (DESIGN.md §4), and
-- backfill below the kept raw rows.
--
-- The queries of the service (queries.rs) read only these names, defined
-- by each engine's migrations with the same columns:
--   metrics_between(lo, hi)          raw samples in [lo, hi), packed ones too
--   employee_metrics_hourly          the hourly rollup, real-time hours included
--   metrics_hourly_org               the organisation's hours
--   team_member_days(team, lo, hi)   a team's member-days (rows per part)
--   employee_known(id), team_known(team)
-- and the writer calls backfill_rollup(hours) for samples older than the
-- kept raw rows (below).

CREATE OR REPLACE FUNCTION employee_known(e text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM employee_metrics WHERE employee_id = e)
        OR EXISTS (SELECT 1 FROM employee_metrics_hourly WHERE employee_id = e)
        OR EXISTS (SELECT 1 FROM employee_metrics_packed WHERE employee_id = e)
$$;

CREATE OR REPLACE FUNCTION team_known(t text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM employee_metrics WHERE team = t)
        OR EXISTS (SELECT 1 FROM employee_metrics_hourly WHERE team = t)
        OR EXISTS (SELECT 1 FROM employee_metrics_packed WHERE t = ANY(team))
$$;

-- Backfill: samples written into hours before lifecycle_state.raw_kept_from
-- (whose original raw rows, if any, retention dropped after they were
-- rolled up). Every raw row left in such an hour was written after the
-- drop, so each (employee, hour) with raw rows there is recomputed from
-- them and replaces only its own rollup row; the other employees' rows of
-- the hour, kept from before the drop, stay. The writer refuses a sample
-- for an (employee, hour) that the rollup holds with no raw rows left, so
-- the rows replaced here never held anything but backfilled samples. Then
-- the organisation's hours and the member-days of those days are
-- recomputed from the hourly store, which holds both. Runs in the write's
-- transaction. Returns the hourly rows written.
CREATE OR REPLACE FUNCTION backfill_rollup(hours timestamptz[]) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    written bigint;
    lo timestamptz;
    hi timestamptz;
BEGIN
    -- One scan of the range the hours span (its partitions pruned at plan
    -- time: plpgsql passes lo and hi as values), not one probe per hour.
    SELECT min(b), max(b) + INTERVAL '1 hour' INTO lo, hi FROM unnest(hours) AS b;
    IF lo IS NULL THEN
        RETURN 0;
    END IF;
    DELETE FROM employee_metrics_hourly_store h
    USING (SELECT DISTINCT m.employee_id, date_trunc('hour', m.time) AS bucket
           FROM metrics_between(lo, hi) m
           WHERE date_trunc('hour', m.time) = ANY(hours)) r
    WHERE h.employee_id = r.employee_id AND h.bucket = r.bucket;
    INSERT INTO employee_metrics_hourly_store
    SELECT r.* FROM hourly_from_raw(lo, hi) r WHERE r.bucket = ANY(hours);
    GET DIAGNOSTICS written = ROW_COUNT;
    DELETE FROM metrics_hourly_org_store WHERE bucket = ANY(hours);
    INSERT INTO metrics_hourly_org_store
    SELECT r.* FROM unnest(hours) AS b(bucket)
    CROSS JOIN LATERAL org_hours_from_store(b.bucket, b.bucket + INTERVAL '1 hour') r;
    DELETE FROM employee_team_daily_store
    WHERE bucket IN (SELECT date_trunc('day', b, 'UTC') FROM unnest(hours) AS b);
    INSERT INTO employee_team_daily_store
    SELECT r.* FROM (SELECT DISTINCT date_trunc('day', b, 'UTC') AS day FROM unnest(hours) AS b) d
    CROSS JOIN LATERAL team_days_from_store(d.day, d.day + INTERVAL '1 day') r;
    RETURN written;
END
$$;
