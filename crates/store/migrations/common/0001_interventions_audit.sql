-- Interventions and their append-only, hash-chained audit log (DESIGN.md §2).
-- Runs on both engines; the engine's own migration then gives the audit log
-- its key (a plain table on portable, a hypertable on timescale).

CREATE TABLE IF NOT EXISTS interventions (
    intervention_id    text PRIMARY KEY,
    kind               text NOT NULL,
    target_employee_id text,
    status             text NOT NULL CHECK (status IN
        ('proposed', 'approved', 'active', 'completed', 'cancelled', 'rolled_back')),
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    details            jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS interventions_status ON interventions (status, created_at DESC);
CREATE INDEX IF NOT EXISTS interventions_target ON interventions (target_employee_id, created_at DESC);

-- seq numbers the chain without gaps: a missing number is a deleted event.
CREATE TABLE IF NOT EXISTS intervention_audit_log (
    seq                bigint NOT NULL,
    time               timestamptz NOT NULL,
    event_id           uuid NOT NULL,
    intervention_id    text NOT NULL,
    action             text NOT NULL,
    actor              text NOT NULL,
    target_employee_id text,
    details            jsonb NOT NULL,
    prev_hash          text NOT NULL,
    hash               text NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_intervention ON intervention_audit_log (intervention_id, seq);
CREATE INDEX IF NOT EXISTS audit_by_action ON intervention_audit_log (action, seq);
CREATE INDEX IF NOT EXISTS audit_by_time ON intervention_audit_log (time);

-- The head of the chain: the last event's number and hash. It makes the
-- removal of the newest events detectable, which the chain alone cannot show.
CREATE TABLE IF NOT EXISTS audit_chain_head (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    seq      bigint NOT NULL,
    hash     text NOT NULL
);
INSERT INTO audit_chain_head (seq, hash)
VALUES (0, repeat('0', 64))
ON CONFLICT (only_row) DO NOTHING;

-- The hash of one event: SHA-256 over its fields joined by the unit
-- separator (which no field can contain: ids are restricted, actor has no
-- control characters, jsonb text escapes them) and the previous hash.
-- Computed in the database so that writer and verifier share one definition
-- and jsonb's normalised text is what is hashed.
CREATE OR REPLACE FUNCTION audit_event_hash(
    p_seq bigint, p_time timestamptz, p_event_id uuid, p_intervention_id text,
    p_action text, p_actor text, p_target text, p_details jsonb, p_prev_hash text)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT encode(sha256(convert_to(concat_ws(chr(31),
        p_seq::text,
        to_char(p_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        p_event_id::text, p_intervention_id, p_action, p_actor,
        coalesce(p_target, ''), p_details::text, p_prev_hash), 'UTF8')), 'hex')
$$;

-- Appends one event. The row lock on the chain head serialises appenders, so
-- the chain has one order even with many writers.
CREATE OR REPLACE FUNCTION append_audit_event(
    p_intervention_id text, p_action text, p_actor text, p_target text, p_details jsonb)
RETURNS SETOF intervention_audit_log LANGUAGE plpgsql AS $$
DECLARE
    head audit_chain_head;
    ev intervention_audit_log;
BEGIN
    SELECT * INTO STRICT head FROM audit_chain_head FOR UPDATE;
    ev.seq := head.seq + 1;
    ev.time := now();
    ev.event_id := gen_random_uuid();
    ev.intervention_id := p_intervention_id;
    ev.action := p_action;
    ev.actor := p_actor;
    ev.target_employee_id := p_target;
    ev.details := coalesce(p_details, '{}'::jsonb);
    ev.prev_hash := head.hash;
    ev.hash := audit_event_hash(ev.seq, ev.time, ev.event_id, ev.intervention_id,
        ev.action, ev.actor, ev.target_employee_id, ev.details, ev.prev_hash);
    INSERT INTO intervention_audit_log SELECT ev.*;
    UPDATE audit_chain_head SET seq = ev.seq, hash = ev.hash;
    RETURN NEXT ev;
END
$$;

CREATE OR REPLACE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'intervention_audit_log is append-only: % is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

DROP TRIGGER IF EXISTS audit_log_append_only ON intervention_audit_log;
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON intervention_audit_log
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_change();
DROP TRIGGER IF EXISTS audit_log_no_truncate ON intervention_audit_log;
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON intervention_audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();
