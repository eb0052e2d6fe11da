-- The citizen's folder: practices, their documents and their append-only history.

CREATE TABLE practices (
    id                uuid PRIMARY KEY,
    idempotency_key   text NOT NULL UNIQUE,
    -- SHA-256 of the submission as first received: a second submission with the same key and a
    -- different digest is a conflict, recorded in submission_conflicts, never an overwrite.
    submission_digest text NOT NULL,
    -- The submission without document bytes, as the sender sent it.
    submission        jsonb NOT NULL,
    practice_type     text NOT NULL,
    channel           text NOT NULL,
    operator_id       text,
    tax_code          text NOT NULL,
    subject           text NOT NULL,
    integrates        uuid REFERENCES practices (id),
    state             text NOT NULL,
    rejection_reasons jsonb,
    received_at       timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX practices_by_tax_code ON practices (tax_code, received_at);

CREATE TABLE practice_documents (
    practice_id         uuid NOT NULL REFERENCES practices (id),
    position            integer NOT NULL,
    role                text NOT NULL,
    file_name           text NOT NULL,
    declared_media_type text NOT NULL,
    declared_sha256     text NOT NULL,
    -- Measured on the bytes at intake.
    sha256              text NOT NULL,
    size_bytes          bigint NOT NULL,
    -- Small documents stay here; large ones live in the object store's staging area.
    content             bytea,
    staged_key          text,
    PRIMARY KEY (practice_id, position),
    CHECK ((content IS NULL) <> (staged_key IS NULL))
);

CREATE TABLE practice_history (
    id          bigserial PRIMARY KEY,
    practice_id uuid NOT NULL REFERENCES practices (id),
    from_state  text,
    to_state    text NOT NULL,
    -- worker:<name>, operator:<id>, citizen, backoffice:<id>
    actor       text NOT NULL,
    -- Names the cause of the transition; a redelivered message carries the same key and adds
    -- nothing.
    event_key   text NOT NULL,
    details     jsonb NOT NULL DEFAULT '{}'::jsonb,
    at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (practice_id, event_key)
);
CREATE INDEX practice_history_by_practice ON practice_history (practice_id, id);

CREATE TABLE submission_conflicts (
    id                bigserial PRIMARY KEY,
    idempotency_key   text NOT NULL,
    practice_id       uuid NOT NULL REFERENCES practices (id),
    received_digest   text NOT NULL,
    submission        jsonb NOT NULL,
    received_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (idempotency_key, received_digest)
);

-- History is evidence: nobody edits or deletes it, whatever their privileges.
CREATE FUNCTION refuse_history_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the history of a practice is append-only (% refused)', TG_OP;
END;
$$;
CREATE TRIGGER practice_history_append_only
    BEFORE UPDATE OR DELETE ON practice_history
    FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
