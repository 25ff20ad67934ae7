-- Alert rules of two more kinds (docs/REALTIME.md, "Rule kinds"): besides
-- a threshold on each sample, "the forecast reaches the threshold within N
-- days" and "an unusual day-over-day change is found". Those two are
-- evaluated once a UTC day, from the daily means, not from the inbox; the
-- day last evaluated and a claim on the evaluation in progress are kept on
-- the rule, so that two serving processes evaluate a rule's day once.

-- Re-runnable, as every migration is (a database brought back to an older
-- version runs the later ones again).
ALTER TABLE alert_rules
    ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'threshold'
        CHECK (kind IN ('threshold', 'forecast', 'anomaly')),
    ADD COLUMN IF NOT EXISTS within_days integer CHECK (within_days BETWEEN 1 AND 30),
    ADD COLUMN IF NOT EXISTS evaluated_day date,
    ADD COLUMN IF NOT EXISTS evaluation_lease timestamptz,
    DROP CONSTRAINT IF EXISTS alert_rules_within_days_of_forecasts,
    ADD CONSTRAINT alert_rules_within_days_of_forecasts
        CHECK ((kind = 'forecast') = (within_days IS NOT NULL));

-- The inbox is filled for threshold rules (and live streams) only.
CREATE OR REPLACE FUNCTION realtime_wanted() RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM alert_rules
                   WHERE enabled AND deleted_at IS NULL AND kind = 'threshold')
        OR EXISTS (SELECT 1 FROM realtime_listeners WHERE seen_at > now() - interval '2 minutes')
$$;
