-- Compression of old raw samples on the portable engine (DESIGN.md §3).
--
-- The compression job packs each daily raw partition older than the
-- threshold into one row per (employee, day) of employee_metrics_packed and
-- empties the raw partition (see compression.rs). A packed row holds:
--   * the times: the first time and a constant step when the day's samples
--     are evenly spaced (delta-of-delta all zero: nothing else to store),
--     the full array otherwise;
--   * the values: run-length encoded over the whole sample, that is one
--     entry per run of consecutive samples whose team and four metrics are
--     all equal; run_end[r] is the 1-based index of the last sample of run r.
--     The platform measures a graph that is rebuilt every few hours, so a
--     day of 15-minute samples is a handful of runs;
--   * a summary of the last sample (time, team, burnout), so that "latest
--     score per employee" needs no decoding.
-- Arrays longer than a couple of kilobytes are further compressed by TOAST.
-- The codec is chosen so that PostgreSQL itself decodes it with
-- unnest/generate_series, inside every query, without an extension.
--
-- Invariant: the samples of an (employee, day) are either all packed or all
-- raw. The writer unpacks the (employee, day)s a batch touches before it
-- writes them (holding the day's raw partition, which the compression job
-- locks exclusively while it packs).

CREATE TABLE IF NOT EXISTS employee_metrics_packed (
    day          date NOT NULL,
    employee_id  text NOT NULL,
    samples      integer NOT NULL CHECK (samples > 0),
    first_time   timestamptz NOT NULL,
    last_time    timestamptz NOT NULL,
    step         interval,
    times        timestamptz[],
    run_end      integer[] NOT NULL,
    team         text[] NOT NULL,
    degree_centrality      double precision[] NOT NULL,
    betweenness_centrality double precision[] NOT NULL,
    clustering_coeff       double precision[] NOT NULL,
    burnout_score          double precision[] NOT NULL,
    last_team    text,
    last_burnout double precision NOT NULL,
    CHECK ((step IS NULL) <> (times IS NULL)),
    PRIMARY KEY (employee_id, day)
) PARTITION BY RANGE (day);

-- The samples of one packed row, in time order. A plain SQL function, so
-- the planner inlines it.
CREATE OR REPLACE FUNCTION packed_samples(
    first_time timestamptz, step interval, times timestamptz[], run_end integer[], team text[],
    degree_centrality double precision[], betweenness_centrality double precision[],
    clustering_coeff double precision[], burnout_score double precision[])
RETURNS TABLE ("time" timestamptz, team text, degree_centrality double precision,
               betweenness_centrality double precision, clustering_coeff double precision,
               burnout_score double precision)
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN times IS NULL THEN first_time + (k - 1) * step ELSE times[k] END,
           r.team, r.d, r.b, r.c, r.u
    -- Zipped with itself shifted by one: each run with the end of the one
    -- before it (a last, padded row has no run_end and yields nothing).
    FROM unnest(run_end, array_prepend(0, run_end), team, degree_centrality,
                betweenness_centrality, clustering_coeff, burnout_score)
         AS r(run_end, prev_end, team, d, b, c, u)
    CROSS JOIN LATERAL generate_series(r.prev_end + 1, r.run_end) AS k
$$;

-- Every sample with lo <= time < hi, raw or packed: what every query of raw
-- samples reads on the portable engine. Inlined by the planner, so filters
-- on employee_id reach both tables' indexes, and the day bounds prune the
-- packed partitions.
CREATE OR REPLACE FUNCTION metrics_between(lo timestamptz, hi timestamptz)
RETURNS TABLE ("time" timestamptz, employee_id text, team text, degree_centrality double precision,
               betweenness_centrality double precision, clustering_coeff double precision,
               burnout_score double precision)
LANGUAGE sql STABLE AS $$
    SELECT m.time, m.employee_id, m.team, m.degree_centrality, m.betweenness_centrality,
           m.clustering_coeff, m.burnout_score
    FROM employee_metrics m
    WHERE m.time >= lo AND m.time < hi
    UNION ALL
    SELECT s.time, p.employee_id, s.team, s.degree_centrality, s.betweenness_centrality,
           s.clustering_coeff, s.burnout_score
    FROM employee_metrics_packed p
    CROSS JOIN LATERAL packed_samples(p.first_time, p.step, p.times, p.run_end, p.team,
        p.degree_centrality, p.betweenness_centrality, p.clustering_coeff, p.burnout_score) s
    WHERE p.day >= (lo AT TIME ZONE 'UTC')::date
      AND p.day <= (hi AT TIME ZONE 'UTC')::date
      AND p.last_time >= lo AND p.first_time < hi
      AND s.time >= lo AND s.time < hi
$$;

-- The hourly aggregate now reads packed samples too (same definition as in
-- migration 0003 otherwise).
CREATE OR REPLACE FUNCTION hourly_from_raw(lo timestamptz, hi timestamptz)
RETURNS SETOF employee_metrics_hourly_store LANGUAGE sql STABLE AS $$
    SELECT date_trunc('hour', time), employee_id,
           (array_agg(team ORDER BY time DESC))[1],
           count(*),
           sum(degree_centrality), sum(degree_centrality * degree_centrality), min(degree_centrality), max(degree_centrality),
           sum(betweenness_centrality), sum(betweenness_centrality * betweenness_centrality), min(betweenness_centrality), max(betweenness_centrality),
           sum(clustering_coeff), sum(clustering_coeff * clustering_coeff), min(clustering_coeff), max(clustering_coeff),
           sum(burnout_score), sum(burnout_score * burnout_score), min(burnout_score), max(burnout_score)
    FROM metrics_between(lo, hi)
    GROUP BY 1, 2
$$;
