-- The runtime role: what the workers, the API and the CLI connect as. The schema and its
-- triggers belong to the owner role that runs these migrations; the runtime role gets, table
-- by table, only what the code does there. The register, its annulments, the daily registers,
-- the history, the archive index and the error-queue archive take INSERT and SELECT only, so
-- neither UPDATE, DELETE, TRUNCATE nor disabling or dropping a trigger is possible for it,
-- whatever the triggers say.
--
-- `sportello_runtime` is a group role (NOLOGIN) that the runtime login is a member of; the
-- deployment creates both (deploy/local/stack-up.sh does locally), since creating roles is
-- beyond what a schema owner should be allowed.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sportello_runtime') THEN
        RAISE EXCEPTION 'role sportello_runtime does not exist: create it (CREATE ROLE sportello_runtime NOLOGIN) and GRANT it to the runtime login before migrating';
    END IF;
END
$$;

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO sportello_runtime;

-- The folder: a practice's row moves with its state; its documents and conflicts are written
-- once.
GRANT SELECT, INSERT, UPDATE ON practices TO sportello_runtime;
GRANT SELECT, INSERT ON practice_documents TO sportello_runtime;
GRANT SELECT, INSERT ON practice_history TO sportello_runtime;
GRANT SELECT, INSERT ON submission_conflicts TO sportello_runtime;

-- The register: the year's counter moves; everything registered stays as written.
GRANT SELECT, INSERT, UPDATE ON register_counters TO sportello_runtime;
GRANT SELECT, INSERT ON registrations TO sportello_runtime;
GRANT SELECT, INSERT ON registration_annulments TO sportello_runtime;
GRANT SELECT, INSERT ON daily_registers TO sportello_runtime;
GRANT SELECT, INSERT ON practice_archive_objects TO sportello_runtime;

-- A notification's row records its delivery as it happens.
GRANT SELECT, INSERT, UPDATE ON notifications TO sportello_runtime;

-- The error-queue archive: parked once, settled once.
GRANT SELECT, INSERT ON parked_messages TO sportello_runtime;
GRANT SELECT, INSERT ON parked_message_settlements TO sportello_runtime;
GRANT SELECT ON discarded_messages TO sportello_runtime;

GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO sportello_runtime;
-- So that a worker can tell its schema is the one it was built for.
GRANT SELECT ON _sqlx_migrations TO sportello_runtime;
