-- The archive in the object store: every object a practice's registrations put there, with the
-- SHA-256 proven by reading the stored object back. The store never overwrites an archive key,
-- so a row here stays true for as long as the object exists.

CREATE TABLE practice_archive_objects (
    object_key  text        PRIMARY KEY,
    practice_id uuid        NOT NULL REFERENCES practices (id),
    -- document: a citizen's document; primary: the istanza (submission as received);
    -- segnatura: the signed segnatura of a registration; result: a back office's result document.
    kind        text        NOT NULL CHECK (kind IN ('document', 'primary', 'segnatura', 'result')),
    -- The registration the object belongs to (incoming, or outgoing for results).
    registration_id bigint  NOT NULL REFERENCES registrations (id),
    -- As registered (the key holds a sanitised copy).
    file_name   text        NOT NULL,
    media_type  text        NOT NULL,
    sha256      text        NOT NULL,
    size_bytes  bigint      NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX practice_archive_objects_by_practice ON practice_archive_objects (practice_id);

CREATE FUNCTION refuse_archive_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the archive index is append-only (% refused)', TG_OP;
END;
$$;
CREATE TRIGGER practice_archive_objects_append_only
    BEFORE UPDATE OR DELETE ON practice_archive_objects
    FOR EACH ROW EXECUTE FUNCTION refuse_archive_change();
