-- Signing in to the cruscotto and the citizen's area.
--
-- Operators have accounts here (`sportello operator add | disable`): a password hashed with
-- argon2id (PHC string, salt inside), their roles, and the count of wrong passwords in a row
-- that locks the account for a while. An account is disabled, never deleted: the history names
-- operators by id, and the id must keep meaning the same person.
CREATE TABLE operators (
    id              TEXT PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    display_name    TEXT NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    password_hash   TEXT NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    roles           TEXT[] NOT NULL CHECK (
                        cardinality(roles) > 0
                        AND roles <@ ARRAY['counter', 'protocol_officer', 'operations']
                    ),
    failed_logins   INTEGER NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    locked_until    TIMESTAMPTZ,
    disabled_at     TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per browser session. The cookie carries a random secret; only its SHA-256 is kept,
-- so reading this table does not hand anyone a session. A session ends at `expires_at`, after
-- `http.web.idle_secs` without a request, or when its holder signs out (`ended_at`). A
-- citizen's session comes from a hand-over token of the portal, usable once (`handover_sha256`).
CREATE TABLE web_sessions (
    secret_sha256   TEXT PRIMARY KEY CHECK (secret_sha256 ~ '^[0-9a-f]{64}$'),
    kind            TEXT NOT NULL CHECK (kind IN ('operator', 'citizen')),
    operator_id     TEXT REFERENCES operators (id),
    tax_code        TEXT,
    csrf_token      TEXT NOT NULL CHECK (length(csrf_token) >= 32),
    handover_sha256 TEXT UNIQUE,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at      TIMESTAMPTZ NOT NULL,
    ended_at        TIMESTAMPTZ,
    CHECK ((kind = 'operator') = (operator_id IS NOT NULL)),
    CHECK ((kind = 'citizen') = (tax_code IS NOT NULL))
);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);

-- The runtime role adds and disables operators, counts their failures, and opens, touches,
-- ends and purges sessions; it may not delete an operator.
GRANT SELECT, INSERT, UPDATE ON operators TO sportello_runtime;
GRANT SELECT, INSERT, UPDATE, DELETE ON web_sessions TO sportello_runtime;
