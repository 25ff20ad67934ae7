-- Version 27 (timescale): an employee's hours as an index-only scan of the
-- hourly aggregate's materialised hypertable, as portable's version 27
-- gave its hourly store.
--
-- A refresh writes one hour of every employee at a time, so an employee's
-- rows in the materialised hypertable lie one per page: employee_hours
-- (version 24) over 90 days read 2,158 rows from 2,200 heap pages through
-- TimescaleDB's (employee_id, bucket DESC) index at 10,000 employees, and
-- the alerts' stored hours (version 26) read the same way. This key holds
-- every column those two read, so the rows come from a few leaf pages of
-- the index instead: at 2,000 employees × 90 days, 3,336 buffers and 66 ms
-- cold before, 201 and 2.3 ms after. The refresh job vacuums the
-- hypertable, which marks its pages all-visible, so the heap is not
-- visited.
--
-- The columns named here are the view's; TimescaleDB builds the index on
-- the materialised hypertable and on each of its chunks.
CREATE INDEX IF NOT EXISTS employee_metrics_hourly_cagg_employee
    ON employee_metrics_hourly_cagg (employee_id, bucket)
    INCLUDE (team, samples, degree_centrality_sum, betweenness_centrality_sum,
             clustering_coeff_sum, burnout_score_sum, burnout_score_min, burnout_score_max);

-- A team's member-days (team_member_days_read, version 18) the same way
-- from the daily aggregate's hypertable: a refresh writes a day of every
-- employee at a time, so a team's members of a day lie on as many pages
-- as there are members (2,356 buffers and 28 ms for 730 days before, 395 and 3 ms after,
-- at the scale above). This key replaces version 8's (team, bucket).
CREATE INDEX IF NOT EXISTS employee_team_daily_team_days
    ON employee_team_daily (team, bucket)
    INCLUDE (employee_id, samples, degree_centrality_sum, betweenness_centrality_sum,
             clustering_coeff_sum, burnout_score_sum, burnout_score_max);

-- Indexes every refresh kept for nobody, dropped:
--   * TimescaleDB's own (employee_id, bucket DESC) index on the hourly
--     aggregate, a prefix of the key above (a B-tree is read backwards as
--     well as forwards);
--   * version 2's (team, bucket DESC), the same as version 18's
--     employee_metrics_hourly_cagg_team (team, bucket);
--   * on employee_team_daily, TimescaleDB's (employee_id, bucket DESC) and
--     (team, bucket DESC), the same as version 12's employee_team_daily_employee
--     and the key above, and version 8's (team, bucket), a prefix of it.
-- TimescaleDB's (bucket DESC) indexes stay: its refresh deletes by bucket.
DO $$
DECLARE
    doomed text;
BEGIN
    FOR doomed IN
        SELECT format('%I.%I', h.schema_name, coalesce(d.index_name, h.table_name || d.suffix))
        FROM (VALUES ('employee_metrics_hourly_cagg', '_employee_id_bucket_idx', NULL),
                     ('employee_metrics_hourly_cagg', NULL, 'employee_metrics_hourly_team'),
                     ('employee_team_daily', '_employee_id_bucket_idx', NULL),
                     ('employee_team_daily', '_team_bucket_idx', NULL),
                     ('employee_team_daily', NULL, 'employee_team_daily_team'))
             AS d(view_name, suffix, index_name)
        JOIN _timescaledb_catalog.continuous_agg c
          ON c.user_view_name = d.view_name AND c.user_view_schema = current_schema()
        JOIN _timescaledb_catalog.hypertable h ON h.id = c.mat_hypertable_id
    LOOP
        EXECUTE 'DROP INDEX IF EXISTS ' || doomed;
    END LOOP;
END
$$;
