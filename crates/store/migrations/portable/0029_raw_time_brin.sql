-- Version 29 (portable): the raw rows' time ranges, for the reads of a
-- window of every employee's raw rows.
--
-- Since version 26 no index of the raw rows starts with time, so the hours
-- after the watermark (the statistics' current hour, the refresh's next
-- hours) and an invalidated hour were each a sequential scan of their
-- day's whole partition: at 10,000 employees × 15 minutes, 870,000 rows
-- read for none or 40,000 kept, 40-50 ms of the statistics' 60. A BRIN
-- index keeps each range of 32 heap pages' least and greatest time (32 kB
-- for a day of 77 MB): a window after every summarised range's greatest
-- time reads none of them (the same statistics: 6 ms). Samples arrive
-- about in time order (a measurement of everyone every few minutes, or a
-- history loaded a day at a time), so the ranges are narrow; pages past the
-- last summarised range are always read, and autosummarize summarises a
-- range as soon as it is full. Its cost to a write is nothing for a fresh
-- page and a compare for a summarised one, against a B-tree insertion per
-- sample for an index on time.
CREATE INDEX IF NOT EXISTS employee_metrics_time_brin
    ON employee_metrics USING brin (time) WITH (pages_per_range = 32, autosummarize = on);
