-- Version 15 (timescale): the name the store reads an employee's team at
-- an instant by on both engines (the portable engine's version reads its
-- hourly store when it can). Here the hourly continuous aggregate is the
-- store: the team of the employee's last hour within the 14 days before.
CREATE OR REPLACE FUNCTION employee_team_at(e text, at timestamptz)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT h.team FROM employee_metrics_hourly h
    WHERE h.employee_id = e AND h.bucket <= at AND h.bucket > at - INTERVAL '14 days'
    ORDER BY h.bucket DESC LIMIT 1
$$;
