-- Version 28 (portable): the daily store's rows have a key, so that the
-- batch writer can add a batch's hours to them (writer.rs, "rollups kept
-- by the writer").
--
-- A row is one (employee, UTC day, team): the refresh writes a day's rows
-- grouped by exactly these (team_days_from_store), and replaces whole
-- days, so no stored database holds two rows for one key. NULLS NOT
-- DISTINCT: the hours of samples without a team make a row of team NULL,
-- and these are one row per (employee, day) too. The index replaces
-- (employee_id, bucket) of version 12, whose reads (an employee's days)
-- use its first two columns just as well. IF [NOT] EXISTS: the upgrade
-- tests take a database back to an older version with its objects kept.
CREATE UNIQUE INDEX IF NOT EXISTS employee_team_daily_store_key
    ON employee_team_daily_store (employee_id, bucket, team) NULLS NOT DISTINCT;
DROP INDEX IF EXISTS employee_team_daily_store_employee;
