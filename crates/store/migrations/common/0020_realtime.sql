-- Real time (DESIGN.md §13): alert rules and their destinations, one state
-- per (rule, employee), the inbox of committed samples the evaluator has
-- not seen yet, the feed the live stream reads, and the webhook deliveries
-- with every attempt. The same on both engines: plain tables.

CREATE TABLE IF NOT EXISTS alert_rules (
    rule_id     text PRIMARY KEY,
    name        text NOT NULL,
    metric      text NOT NULL CHECK (metric IN
        ('degree_centrality', 'betweenness_centrality', 'clustering_coeff', 'burnout_score')),
    direction   text NOT NULL CHECK (direction IN ('above', 'below')),
    threshold   double precision NOT NULL,
    hysteresis  double precision NOT NULL CHECK (hysteresis >= 0),
    team        text,
    min_samples integer NOT NULL CHECK (min_samples BETWEEN 1 AND 1000),
    enabled     boolean NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    -- A deleted rule is kept (its deliveries and audit events name it) but
    -- no longer listed, evaluated or delivered.
    deleted_at  timestamptz
);

-- A webhook. The secret signs every delivery (HMAC-SHA256); it is shown
-- once, when the rule is created, and never again.
CREATE TABLE IF NOT EXISTS alert_destinations (
    destination_id text PRIMARY KEY,
    rule_id        text NOT NULL REFERENCES alert_rules (rule_id),
    position       integer NOT NULL,
    url            text NOT NULL,
    format         text NOT NULL CHECK (format IN ('json', 'slack')),
    secret         text NOT NULL,
    timeout_ms     integer NOT NULL CHECK (timeout_ms BETWEEN 100 AND 60000),
    max_in_flight  integer NOT NULL CHECK (max_in_flight BETWEEN 1 AND 64),
    UNIQUE (rule_id, position)
);

-- Where each (rule, employee) stands, and the last sample it was stepped
-- with: a sample at or before that time is late and changes nothing.
CREATE TABLE IF NOT EXISTS alert_states (
    rule_id     text NOT NULL REFERENCES alert_rules (rule_id),
    employee_id text NOT NULL,
    state       text NOT NULL CHECK (state IN ('ok', 'firing', 'resolved')),
    streak      integer NOT NULL,
    episode_id  uuid,
    team        text,
    sample_time timestamptz NOT NULL,
    value       double precision NOT NULL,
    changed_at  timestamptz NOT NULL,
    PRIMARY KEY (rule_id, employee_id)
);
CREATE INDEX IF NOT EXISTS alert_states_firing ON alert_states (rule_id) WHERE state = 'firing';

-- Samples committed since the evaluator last ran, written by every writer
-- in the sample's own transaction (so none is lost and none is seen before
-- it commits), only while something wants them: an enabled rule, or a live
-- stream that shows samples. The evaluator takes them and deletes them.
CREATE TABLE IF NOT EXISTS realtime_inbox (
    time                   timestamptz NOT NULL,
    employee_id            text NOT NULL,
    team                   text,
    degree_centrality      double precision NOT NULL,
    betweenness_centrality double precision NOT NULL,
    clustering_coeff       double precision NOT NULL,
    burnout_score          double precision NOT NULL
);

-- Live streams that show samples, by the serving process that holds them:
-- seen within the last two minutes, they keep samples coming into the inbox.
CREATE TABLE IF NOT EXISTS realtime_listeners (
    listener_id text PRIMARY KEY,
    seen_at     timestamptz NOT NULL
);

CREATE OR REPLACE FUNCTION realtime_wanted() RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM alert_rules WHERE enabled AND deleted_at IS NULL)
        OR EXISTS (SELECT 1 FROM realtime_listeners WHERE seen_at > now() - interval '2 minutes')
$$;

-- The live feed: alert state changes and new samples, numbered by the
-- evaluator under its lock, so numbers grow in commit order and a reader
-- that resumes after a number misses nothing. Kept for a day.
CREATE SEQUENCE IF NOT EXISTS realtime_feed_seq;
CREATE TABLE IF NOT EXISTS realtime_feed (
    event_id bigint PRIMARY KEY,
    time     timestamptz NOT NULL,
    kind     text NOT NULL CHECK (kind IN ('alert', 'samples')),
    -- The team recorded on the sample(s): who may see the event.
    team     text,
    payload  jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS realtime_feed_time ON realtime_feed (time);

-- One notification of one episode's state to one destination. The
-- idempotency key (episode, state, destination) is sent with it, and is
-- unique here: an episode's state is queued once.
CREATE TABLE IF NOT EXISTS alert_deliveries (
    delivery_id     bigserial PRIMARY KEY,
    rule_id         text NOT NULL REFERENCES alert_rules (rule_id),
    destination_id  text NOT NULL REFERENCES alert_destinations (destination_id),
    episode_id      uuid NOT NULL,
    state           text NOT NULL CHECK (state IN ('firing', 'resolved')),
    idempotency_key text NOT NULL UNIQUE,
    payload         jsonb NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'delivered', 'dead', 'cancelled')),
    attempts        integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    -- A sender's claim: another sender leaves the delivery alone until then.
    lease_until     timestamptz,
    finished_at     timestamptz,
    last_error      text
);
CREATE INDEX IF NOT EXISTS alert_deliveries_due ON alert_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS alert_deliveries_recent ON alert_deliveries (created_at DESC, delivery_id DESC);

CREATE TABLE IF NOT EXISTS alert_delivery_attempts (
    delivery_id bigint NOT NULL REFERENCES alert_deliveries (delivery_id),
    attempt     integer NOT NULL,
    started_at  timestamptz NOT NULL,
    duration_ms double precision NOT NULL,
    http_status integer,
    outcome     text NOT NULL CHECK (outcome IN ('delivered', 'failed')),
    error       text,
    PRIMARY KEY (delivery_id, attempt)
);
