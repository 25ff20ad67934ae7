-- Version 13 on both engines: the organisation-wide analytics' answers kept
-- between requests (docs/ANALYTICS.md, "Kept answers").
--
-- An answer covers whole past UTC days only, so it changes only when a
-- write lands on a past day, or retention removes one. Every such change
-- adds one to the generation, in the same transaction; a kept answer is
-- served only while the generation is the one it was computed at.
-- (Written to run again unchanged: the upgrade tests replay versions.)

CREATE TABLE IF NOT EXISTS analytics_generation (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    generation bigint NOT NULL DEFAULT 0
);
INSERT INTO analytics_generation DEFAULT VALUES ON CONFLICT DO NOTHING;

-- `answer` is the JSON text as first sent, byte for byte (not jsonb, which
-- would rewrite its numbers).
CREATE TABLE IF NOT EXISTS analytics_answers (
    key text PRIMARY KEY,
    generation bigint NOT NULL,
    window_end timestamptz NOT NULL,
    answer text NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now()
);
