-- The receipt of a practice (art. 18-bis L. 241/1990, with the contents of art. 8) is archived
-- beside the segnatura of its incoming registration, its SHA-256 recorded like every object's.
ALTER TABLE practice_archive_objects DROP CONSTRAINT practice_archive_objects_kind_check;
ALTER TABLE practice_archive_objects ADD CONSTRAINT practice_archive_objects_kind_check
    CHECK (kind IN ('document', 'primary', 'segnatura', 'result', 'receipt'));
