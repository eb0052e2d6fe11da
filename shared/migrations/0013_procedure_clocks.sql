-- The procedure's clock (L. 241/1990), owned by sportello_shared::procedure: one row per
-- practice from its incoming registration (the protocol date starts the term), with the term,
-- what silence means and the office copied from the catalog as they were then, the days
-- suspended so far, the suspension under way, and when the procedure concluded.
CREATE TABLE procedure_clocks (
    practice_id      uuid PRIMARY KEY REFERENCES practices (id),
    practice_type    text NOT NULL,
    term_days        integer NOT NULL CHECK (term_days BETWEEN 1 AND 180),
    silence          text NOT NULL CHECK (silence IN ('consent', 'refusal', 'nothing')),
    office           text NOT NULL,
    started_on       date NOT NULL,
    -- The instant of the registration, for a shortened day (procedure.day_secs).
    started_at       timestamptz NOT NULL,
    -- protocol date + term + suspended days (with an open suspension: as if it ran its course).
    due_on           date NOT NULL,
    suspended_days   integer NOT NULL DEFAULT 0 CHECK (suspended_days >= 0),
    suspension_kind  text CHECK (suspension_kind IN ('integration')),
    suspended_since  date,
    integration_used boolean NOT NULL DEFAULT false,
    concluded_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((suspension_kind IS NULL) = (suspended_since IS NULL))
);
-- The timer job's scan: open clocks by due date.
CREATE INDEX procedure_clocks_open ON procedure_clocks (due_on) WHERE concluded_at IS NULL;

-- Each timer event of a practice fires once: the primary key says so, whatever the number of
-- timer jobs or their crashes. `published_at` is the outbox mark: the reminder to the back
-- office goes out after the commit, and again after a crash before it was marked.
CREATE TABLE procedure_timer_events (
    practice_id   uuid NOT NULL REFERENCES practices (id),
    kind          text NOT NULL CHECK (kind IN ('due_soon', 'overdue', 'suspension_ended')),
    practice_type text NOT NULL,
    due_on        date NOT NULL,
    fired_on      date NOT NULL,
    fired_at      timestamptz NOT NULL DEFAULT now(),
    fired_by      text NOT NULL,
    published_at  timestamptz,
    PRIMARY KEY (practice_id, kind)
);
CREATE INDEX procedure_timer_events_unpublished ON procedure_timer_events (fired_at)
    WHERE published_at IS NULL;

-- The clocks move; a timer event is written once and only marked published.
GRANT SELECT, INSERT, UPDATE ON procedure_clocks TO sportello_runtime;
GRANT SELECT, INSERT ON procedure_timer_events TO sportello_runtime;
GRANT UPDATE (published_at) ON procedure_timer_events TO sportello_runtime;
