-- Version 15 (portable): an employee's team at an instant, read from the
-- hourly store when it holds the hours asked about.
--
-- The intervention effect needs the target's team at activation: the team
-- of its last hour within the 14 days before. Read through the real-time
-- view employee_metrics_hourly, that one-row question was planned with
-- every raw partition after the watermark (the view's raw parts cannot be
-- bounded by the caller's filter on the hour), which was most of the effect
-- endpoint's time at 10,000 employees. The hourly store's primary key
-- (employee_id, bucket) answers it with one index probe; the view is read
-- only when the hours asked about are not all stored and valid: the instant
-- is at or after the watermark, or one of the 14 days' hours is invalidated.
CREATE OR REPLACE FUNCTION employee_team_at(e text, at timestamptz)
RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
    stored_until timestamptz;
    found_team text;
BEGIN
    SELECT s.watermark INTO stored_until FROM rollup_state s;
    IF date_trunc('hour', at) < stored_until
       AND NOT EXISTS (SELECT 1 FROM rollup_invalidations i
                       WHERE i.bucket <= at AND i.bucket > at - INTERVAL '14 days') THEN
        SELECT h.team INTO found_team FROM employee_metrics_hourly_store h
        WHERE h.employee_id = e AND h.bucket <= at AND h.bucket > at - INTERVAL '14 days'
        ORDER BY h.bucket DESC LIMIT 1;
        RETURN found_team;
    END IF;
    SELECT h.team INTO found_team FROM employee_metrics_hourly h
    WHERE h.employee_id = e AND h.bucket <= at AND h.bucket > at - INTERVAL '14 days'
    ORDER BY h.bucket DESC LIMIT 1;
    RETURN found_team;
END
$$;
