-- Each employee's latest sample (time, team, burnout score), kept by the
-- writer in the same transaction as the samples it writes (writer.rs).
-- Burnout alerts judge every employee on the latest score in the window:
-- reading it here costs one row per employee, where the raw samples of a
-- 7-day window are 672 per employee (6.7 million for 10,000 employees).
--
-- A row is only ever replaced by a sample at the same or a later time, and
-- raw samples are never deleted one by one (retention drops whole days
-- older than anything an alert window reaches), so the row is the latest
-- raw sample whenever it falls inside an alert window.

CREATE TABLE IF NOT EXISTS employee_latest (
    employee_id   text PRIMARY KEY,
    time          timestamptz NOT NULL,
    team          text,
    burnout_score double precision NOT NULL
);

-- A database upgraded from an earlier version: start from what is stored.
INSERT INTO employee_latest (employee_id, time, team, burnout_score)
SELECT DISTINCT ON (employee_id) employee_id, time, team, burnout_score
FROM employee_metrics
ORDER BY employee_id, time DESC
ON CONFLICT (employee_id) DO NOTHING;
