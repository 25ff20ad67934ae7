-- Version 23 (timescale): the materialised part of an aggregate and its
-- watermark read in the same snapshot.
--
-- cagg_materialised (version 18) read the watermark through
-- _timescaledb_functions.cagg_watermark, which takes a snapshot of its
-- own: under READ COMMITTED a newer one than the statement's. A team read
-- that ran while a refresh committed could see the new watermark but the
-- materialised hypertable as it was before the refresh, and the buckets
-- that refresh materialised in neither part. The watermark is a row of
-- TimescaleDB's catalog,
-- updated in the transaction that materialises: read as a row, in the
-- caller's snapshot, it always matches the materialised rows.
CREATE OR REPLACE FUNCTION cagg_materialised(view_name text, OUT hypertable text, OUT watermark timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT format('%I.%I', h.schema_name, h.table_name),
           _timescaledb_functions.to_timestamp(w.watermark)
    FROM _timescaledb_catalog.continuous_agg c
    JOIN _timescaledb_catalog.hypertable h ON h.id = c.mat_hypertable_id
    LEFT JOIN _timescaledb_catalog.continuous_aggs_watermark w
           ON w.mat_hypertable_id = c.mat_hypertable_id
    WHERE c.user_view_name = view_name AND c.user_view_schema = current_schema()
$$;
