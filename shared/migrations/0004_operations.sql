-- Operations: failed messages taken out of the error queues, and what operators did with them.
--
-- A message in an error queue has no stable identity while it sits in RabbitMQ (reading it means
-- taking it). So the first time an operator lists the error queues, every waiting message is
-- moved here ("parked"): the row is committed first, the message acked only afterwards, so a
-- crash in between leaves the message in its queue (parked again, recognised by its
-- fingerprint), never lost. From then on the row's id names it for show, replay and discard.
-- Nothing here is ever updated or deleted: a replay or a discard is a settlement row beside it.

CREATE TABLE parked_messages (
    id          bigserial   PRIMARY KEY,
    -- The error queue it was taken from, and the work queue a replay puts it back into.
    error_queue text        NOT NULL,
    work_queue  text        NOT NULL,
    -- The worker that gave up, why, after how many retry tiers, and when.
    stage       text        NOT NULL,
    reason      text        NOT NULL,
    attempts    integer     NOT NULL,
    failed_at   timestamptz,
    practice_id uuid,
    message_id  text,
    -- The message exactly as it was: its bytes and its headers (readable JSON).
    body        bytea       NOT NULL,
    headers     jsonb       NOT NULL,
    -- SHA-256 of queue, headers and body: a message parked by a sweep that died before its ack
    -- comes back redelivered and is recognised by this.
    fingerprint text        NOT NULL,
    parked_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX parked_messages_by_fingerprint ON parked_messages (fingerprint);
CREATE INDEX parked_messages_by_practice ON parked_messages (practice_id);

-- At most one settlement per parked message: replayed (back to its work queue) or discarded
-- (with the operator's reason). A replayed message that fails again is parked again, anew.
CREATE TABLE parked_message_settlements (
    parked_id bigint      PRIMARY KEY REFERENCES parked_messages (id),
    action    text        NOT NULL CHECK (action IN ('replayed', 'discarded')),
    operator  text        NOT NULL CHECK (length(trim(operator)) > 0),
    reason    text,
    at        timestamptz NOT NULL DEFAULT now(),
    CHECK (action <> 'discarded' OR length(trim(coalesce(reason, ''))) > 0)
);

-- The discarded messages with everything they carried: body, headers, reason, operator, time.
CREATE VIEW discarded_messages AS
    SELECT p.id, p.error_queue, p.stage, p.reason AS failure_reason, p.practice_id, p.body,
           p.headers, s.reason, s.operator, s.at
    FROM parked_messages p
    JOIN parked_message_settlements s ON s.parked_id = p.id
    WHERE s.action = 'discarded';

CREATE FUNCTION refuse_operations_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'parked messages and their settlements are kept as they are: % on % refused',
        TG_OP, TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER parked_messages_append_only BEFORE UPDATE OR DELETE ON parked_messages
    FOR EACH ROW EXECUTE FUNCTION refuse_operations_change();
CREATE TRIGGER parked_message_settlements_append_only
    BEFORE UPDATE OR DELETE ON parked_message_settlements
    FOR EACH ROW EXECUTE FUNCTION refuse_operations_change();
CREATE TRIGGER parked_messages_no_truncate BEFORE TRUNCATE ON parked_messages
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_operations_change();
