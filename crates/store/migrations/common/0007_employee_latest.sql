-- Each employee's latest sample, kept by the writer in the same transaction
-- as the samples (an upsert that only moves forward in time), so that "who is
-- above the threshold now" and "each employee's latest values" read one row
-- per employee instead of sorting the whole window. Retention removes the
-- rows whose sample it dropped.

CREATE TABLE IF NOT EXISTS employee_latest (
    employee_id            text PRIMARY KEY,
    time                   timestamptz NOT NULL,
    team                   text,
    degree_centrality      double precision NOT NULL,
    betweenness_centrality double precision NOT NULL,
    clustering_coeff       double precision NOT NULL,
    burnout_score          double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS employee_latest_burnout ON employee_latest (burnout_score DESC);

-- From what is stored already: raw rows, and on the portable engine the
-- packed ones.
INSERT INTO employee_latest
SELECT DISTINCT ON (employee_id) employee_id, time, team, degree_centrality,
       betweenness_centrality, clustering_coeff, burnout_score
FROM employee_metrics
ORDER BY employee_id, time DESC
ON CONFLICT (employee_id) DO NOTHING;

DO $$
BEGIN
    IF to_regclass('employee_metrics_packed') IS NOT NULL THEN
        EXECUTE $sql$
            INSERT INTO employee_latest AS l
            SELECT DISTINCT ON (p.employee_id) p.employee_id, s.time, s.team, s.degree_centrality,
                   s.betweenness_centrality, s.clustering_coeff, s.burnout_score
            FROM employee_metrics_packed p
            CROSS JOIN LATERAL packed_samples(p.first_time, p.step, p.times, p.run_end, p.team,
                p.degree_centrality, p.betweenness_centrality, p.clustering_coeff, p.burnout_score) s
            ORDER BY p.employee_id, s.time DESC
            ON CONFLICT (employee_id) DO UPDATE SET
                time = EXCLUDED.time, team = EXCLUDED.team,
                degree_centrality = EXCLUDED.degree_centrality,
                betweenness_centrality = EXCLUDED.betweenness_centrality,
                clustering_coeff = EXCLUDED.clustering_coeff,
                burnout_score = EXCLUDED.burnout_score
            WHERE EXCLUDED.time > l.time
        $sql$;
    END IF;
END
$$;

ANALYZE employee_latest;
