-- The attestation of silenzio-assenso (art. 20 c.2-bis L. 241/1990) is archived with the
-- outgoing registration that carries it, its SHA-256 recorded like every object's.
ALTER TABLE practice_archive_objects DROP CONSTRAINT practice_archive_objects_kind_check;
ALTER TABLE practice_archive_objects ADD CONSTRAINT practice_archive_objects_kind_check
    CHECK (kind IN ('document', 'primary', 'segnatura', 'result', 'receipt', 'attestation'));
