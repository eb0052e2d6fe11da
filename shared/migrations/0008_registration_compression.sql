-- Every registration carries a signed segnatura of about 5 KB, compressed when the row is
-- stored. LZ4 compresses it several times faster than the default (pglz); a server built
-- without LZ4 keeps the default.
DO $$
BEGIN
    ALTER TABLE registrations
        ALTER COLUMN segnatura SET COMPRESSION lz4,
        ALTER COLUMN primary_document SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'LZ4 is not available: registrations keep the default compression';
END
$$;
