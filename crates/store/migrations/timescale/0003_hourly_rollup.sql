-- Refresh the continuous aggregate every hour, up to the last complete hour.
-- The service's own refresh (`organism maintain --job refresh`, and the
-- writer after late data) calls refresh_continuous_aggregate directly as
-- well, since TimescaleDB's scheduled jobs have been seen to fail silently.
SELECT add_continuous_aggregate_policy('employee_metrics_hourly',
    start_offset => NULL,
    end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '1 hour',
    if_not_exists => true);

-- The first instant whose raw rows retention keeps: refreshes never reach
-- before it, so a late sample there cannot replace a materialised hour with
-- the aggregate of that one sample. The retention job moves it and re-sets
-- the policy's start_offset to match.
CREATE TABLE IF NOT EXISTS lifecycle_state (
    only_row      boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    raw_kept_from timestamptz NOT NULL
);
INSERT INTO lifecycle_state (raw_kept_from) VALUES ('-infinity') ON CONFLICT (only_row) DO NOTHING;
