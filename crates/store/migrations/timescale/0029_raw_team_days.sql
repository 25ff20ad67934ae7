-- Version 29 (timescale): a team's raw rows found through the days its
-- members had samples in it, instead of an index on (team, time), as
-- portable's version 26 does.
--
-- The raw hypertable's second B-tree, on (team, time), cost a second index
-- insertion per sample on every write: the writer's COPY of a batch ran at
-- about 0.6x PostgreSQL's COPY of the same rows into a plain table with the
-- unique index alone. It served two questions: which employees had a
-- sample of a team in a window of raw rows (a team's hours after the
-- watermark), and whether a team is known at all. raw_team_days answers
-- both with one row per (team, UTC day, employee), which the writer adds in
-- the sample's own transaction; retention drops its rows with the raw
-- chunks. Its candidates are a superset of the employees asked for; the
-- read keeps only the hours whose team is the team, as before.

-- Writers wait until this migration commits (a writer of an older build
-- would otherwise add rows the backfill below does not see).
LOCK TABLE employee_metrics IN SHARE MODE;

CREATE TABLE IF NOT EXISTS raw_team_days (
    team        text NOT NULL,
    day         date NOT NULL,
    employee_id text NOT NULL,
    PRIMARY KEY (team, day, employee_id)
);

INSERT INTO raw_team_days (team, day, employee_id)
SELECT DISTINCT team, (time AT TIME ZONE 'UTC')::date, employee_id
FROM employee_metrics WHERE team IS NOT NULL
ON CONFLICT DO NOTHING;

DROP INDEX IF EXISTS employee_metrics_team_time;

-- The hours after the watermark that the statistics and the organisation's
-- reads take from raw rows are a range of time in the day's chunk, which
-- no B-tree here leads with: a scan of the whole chunk (800,000 rows at
-- 10,000 employees by the evening, 90-100 ms). Rows written as they are
-- measured fill a chunk's pages in time order, so a BRIN index finds that
-- range in a few of them, at almost no cost per insertion (portable's
-- version 29 did the same). A chunk written out of order (a bulk load of
-- history, employee by employee) gains nothing from it.
CREATE INDEX IF NOT EXISTS employee_metrics_time_brin
    ON employee_metrics USING brin (time) WITH (pages_per_range = 32, autosummarize = on);

-- The employees with a raw sample of team t on a UTC day of [lo, hi): every
-- employee with a sample of the team in the window, and perhaps others.
CREATE OR REPLACE FUNCTION raw_team_candidates(t text, lo timestamptz, hi timestamptz)
RETURNS TABLE (employee_id text) LANGUAGE sql STABLE AS $$
    SELECT DISTINCT d.employee_id FROM raw_team_days d
    WHERE d.team = t
      AND d.day >= (lo AT TIME ZONE 'UTC')::date
      AND d.day <= (hi AT TIME ZONE 'UTC')::date
$$;

CREATE OR REPLACE FUNCTION team_known(t text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM raw_team_days WHERE team = t)
        OR EXISTS (SELECT 1 FROM employee_metrics_hourly WHERE team = t)
$$;

-- Version 18's, with the raw hours' employees from raw_team_candidates.
CREATE OR REPLACE FUNCTION team_member_days_read(t text, lo timestamptz, hi timestamptz)
RETURNS TABLE (bucket timestamptz, employee_id text, samples bigint,
               degree_centrality_sum double precision, betweenness_centrality_sum double precision,
               clustering_coeff_sum double precision, burnout_score_sum double precision,
               burnout_score_max double precision)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    daily text;
    daily_until timestamptz;
    hourly text;
    hourly_until timestamptz;
BEGIN
    SELECT m.hypertable, m.watermark INTO daily, daily_until
    FROM cagg_materialised('employee_team_daily') m;
    SELECT m.hypertable, m.watermark INTO hourly, hourly_until
    FROM cagg_materialised('employee_metrics_hourly_cagg') m;
    IF daily IS NULL OR hourly IS NULL OR daily_until IS NULL OR hourly_until IS NULL
       OR hourly_until < daily_until THEN
        RETURN QUERY SELECT * FROM team_member_days(t, lo, hi);
        RETURN;
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT d.bucket, d.employee_id, d.samples, d.degree_centrality_sum,
                d.betweenness_centrality_sum, d.clustering_coeff_sum, d.burnout_score_sum,
                d.burnout_score_max
         FROM %s d WHERE d.team = $1 AND d.bucket >= $2 AND d.bucket < $3', daily)
    USING t, lo, least(hi, daily_until);
    IF hi > daily_until THEN
        RETURN QUERY EXECUTE format(
            'SELECT time_bucket(INTERVAL ''1 day'', h.bucket), h.employee_id, sum(h.samples)::bigint,
                    sum(h.degree_centrality_sum), sum(h.betweenness_centrality_sum),
                    sum(h.clustering_coeff_sum), sum(h.burnout_score_sum), max(h.burnout_score_max)
             FROM %s h WHERE h.team = $1 AND h.bucket >= $2 AND h.bucket < $3
             GROUP BY 1, 2', hourly)
        USING t, greatest(lo, daily_until), least(hi, hourly_until);
    END IF;
    IF hi > hourly_until THEN
        RETURN QUERY EXECUTE
            'SELECT time_bucket(INTERVAL ''1 day'', r.bucket), r.employee_id, sum(r.samples)::bigint,
                    sum(r.degree_centrality_sum), sum(r.betweenness_centrality_sum),
                    sum(r.clustering_coeff_sum), sum(r.burnout_score_sum), max(r.burnout_score_max)
             FROM raw_team_candidates($1, $2, $3) e
             CROSS JOIN LATERAL (
                 SELECT * FROM hourly_from_raw($2, $3) x
                 WHERE x.employee_id = e.employee_id
                 OFFSET 0) r
             WHERE r.team = $1
             GROUP BY 1, 2'
        USING t, greatest(lo, hourly_until), hi;
    END IF;
    RETURN QUERY
    SELECT b.bucket, b.employee_id, b.samples, b.degree_centrality_sum, b.betweenness_centrality_sum,
           b.clustering_coeff_sum, b.burnout_score_sum, b.burnout_score_max
    FROM employee_team_daily_backfill b
    WHERE b.team = t AND b.bucket >= lo AND b.bucket < hi;
END
$$;
