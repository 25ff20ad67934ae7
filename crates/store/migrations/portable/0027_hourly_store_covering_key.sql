-- Version 27 (portable): an employee's stored hours read from the primary
-- key's index alone.
--
-- The refresh writes a UTC day of every employee at a time, so an
-- employee's 2,160 hours of 90 days lie on 2,160 pages of the hourly store
-- (about 38 rows of 20 columns per page): at 10,000 employees × 90 days the
-- store is 6.1 GB, far more than shared buffers, and the 90-day hourly trend
-- read those pages one by one (2,181 buffers read, 190-240 ms on a cold
-- cache). The primary key now carries the columns employee_hours returns,
-- so the same read is an index-only scan of the employee's key range: 49
-- buffers, 1.8 ms on a cold cache. The refresh vacuums the store after it
-- writes (engines/portable.rs), which marks the pages it wrote all-visible
-- for index-only scans.
ALTER TABLE employee_metrics_hourly_store
    DROP CONSTRAINT employee_metrics_hourly_store_pkey,
    ADD CONSTRAINT employee_metrics_hourly_store_pkey PRIMARY KEY (employee_id, bucket)
        INCLUDE (team, samples, degree_centrality_sum, betweenness_centrality_sum,
                 clustering_coeff_sum, burnout_score_sum, burnout_score_min, burnout_score_max);
