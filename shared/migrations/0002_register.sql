-- The protocol register (DPR 445/2000): numbers, registrations, annulments, daily registers.
-- Everything here is append-only: the triggers at the bottom refuse UPDATE and DELETE whatever
-- role asks, so a registration can only be annulled by adding a record, never edited.

-- The last number given, per register and calendar year. Its row lock serialises numbering
-- across every protocol worker, so numbers are gapless and unique.
CREATE TABLE register_counters (
    aoo         text    NOT NULL,
    register    text    NOT NULL,
    year        integer NOT NULL,
    last_number bigint  NOT NULL,
    PRIMARY KEY (aoo, register, year)
);

CREATE TABLE registrations (
    id                bigserial PRIMARY KEY,
    aoo               text        NOT NULL,
    register          text        NOT NULL,
    year              integer     NOT NULL,
    number            bigint      NOT NULL CHECK (number > 0),
    direction         text        NOT NULL CHECK (direction IN ('incoming', 'outgoing')),
    registered_at     timestamptz NOT NULL,
    -- The date in Italian local time: the legal date of the registration.
    registration_date date        NOT NULL,
    practice_id       uuid        NOT NULL REFERENCES practices (id),
    -- One registration per cause: a redelivered message finds its registration here.
    event_key         text        NOT NULL,
    subject           text        NOT NULL,
    -- The sender (incoming) or the recipients (outgoing), as in the segnatura.
    correspondents    jsonb       NOT NULL,
    classification    jsonb       NOT NULL,
    channel           text        NOT NULL,
    -- Every document with its impronta (SHA-256, base64); the first is the primary document.
    documents         jsonb       NOT NULL,
    -- The primary document's bytes (the submission as received), archived by storage.
    primary_document  bytea       NOT NULL,
    refers_to         bigint REFERENCES registrations (id),
    segnatura         text        NOT NULL,
    UNIQUE (aoo, register, year, number),
    UNIQUE (practice_id, event_key)
);
CREATE INDEX registrations_by_date ON registrations (aoo, register, registration_date);

CREATE TABLE registration_annulments (
    registration_id bigint      PRIMARY KEY REFERENCES registrations (id),
    annulled_at     timestamptz NOT NULL DEFAULT now(),
    annulled_date   date        NOT NULL,
    operator        text        NOT NULL,
    reason          text        NOT NULL,
    -- The authorising measure (provvedimento) of the protocol officer.
    measure         text        NOT NULL
);

CREATE TABLE daily_registers (
    aoo          text        NOT NULL,
    register     text        NOT NULL,
    day          date        NOT NULL,
    object_key   text        NOT NULL,
    manifest_key text        NOT NULL,
    sha256       text        NOT NULL,
    entries      integer     NOT NULL,
    produced_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (aoo, register, day)
);

CREATE FUNCTION refuse_register_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the protocol register is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER registrations_append_only BEFORE UPDATE OR DELETE ON registrations
    FOR EACH ROW EXECUTE FUNCTION refuse_register_change();
CREATE TRIGGER registration_annulments_append_only BEFORE UPDATE OR DELETE ON registration_annulments
    FOR EACH ROW EXECUTE FUNCTION refuse_register_change();
CREATE TRIGGER daily_registers_append_only BEFORE UPDATE OR DELETE ON daily_registers
    FOR EACH ROW EXECUTE FUNCTION refuse_register_change();
CREATE TRIGGER registrations_no_truncate BEFORE TRUNCATE ON registrations
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_register_change();
