-- Version 14 (timescale): the name the store reads a team's member-days
-- by on both engines. The portable engine's version reads its daily store
-- alone when it can; here the daily continuous aggregate and its backfill
-- are the store, and team_member_days (version 11) reads just them.
CREATE OR REPLACE FUNCTION team_member_days_read(t text, lo timestamptz, hi timestamptz)
RETURNS TABLE (bucket timestamptz, employee_id text, samples bigint,
               degree_centrality_sum double precision, betweenness_centrality_sum double precision,
               clustering_coeff_sum double precision, burnout_score_sum double precision,
               burnout_score_max double precision)
LANGUAGE sql STABLE AS $$
    SELECT * FROM team_member_days(t, lo, hi)
$$;
