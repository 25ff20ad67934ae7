-- Native compression (DESIGN.md §3, §4): raw samples after 30 days,
-- segmented by employee and ordered by time descending, so an employee's
-- trend reads one compressed segment per chunk; the audit log after 30 days.
-- The service's compression job also compresses by explicit calls.
ALTER TABLE employee_metrics SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'employee_id',
    timescaledb.compress_orderby = 'time DESC');
SELECT add_compression_policy('employee_metrics', compress_after => INTERVAL '30 days',
    if_not_exists => true);

ALTER TABLE intervention_audit_log SET (
    timescaledb.compress,
    timescaledb.compress_orderby = 'seq');
SELECT add_compression_policy('intervention_audit_log', compress_after => INTERVAL '30 days',
    if_not_exists => true);
