-- Version 16 (portable): a team's member-days read from one stretch of an
-- index instead of one heap page per row.
--
-- The daily store is written a day at a time, so a team's rows for 90 days
-- lie on about as many heap pages as there are rows (900 rows, 870 pages
-- at 10,000 employees in the benchmark: 25 ms of page reads for a team's
-- forecast, 140 ms for the first requests after a restart). The same index
-- on (team, bucket), carrying every column the team reads return, keeps a
-- team's rows side by side in its leaf pages (a few dozen for 90 days), and
-- the reads become index-only scans once autovacuum has marked the pages
-- all-visible (it does for inserted pages too, since PostgreSQL 13). It
-- replaces the plain index on (team, bucket), which it serves in full.
CREATE INDEX IF NOT EXISTS employee_team_daily_store_team_rows
    ON employee_team_daily_store (team, bucket)
    INCLUDE (employee_id, samples, degree_centrality_sum, betweenness_centrality_sum,
             clustering_coeff_sum, burnout_score_sum, burnout_score_max);
DROP INDEX IF EXISTS employee_team_daily_store_team;
ANALYZE employee_team_daily_store;
