-- Refresh the continuous aggregate every hour, up to the last complete hour.
-- The service's own refresh (`organism maintain --job refresh`, and the
-- writer after late data) calls refresh_continuous_aggregate directly as
-- well, since TimescaleDB's scheduled jobs have been seen to fail silently.
SELECT add_continuous_aggregate_policy('employee_metrics_hourly',
    start_offset => NULL,
    end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '1 hour',
    if_not_exists => true);
