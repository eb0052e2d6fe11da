-- Citizen notifications: one row per email a step of a practice calls for, with its delivery.
--
-- The row is written `queued` before anything is sent and settled after; the unique key makes a
-- redelivered event find its row, so an email that went out (`sent`) or can never go out
-- (`failed_permanent`) is never sent again.

CREATE TABLE notifications (
    id          bigserial PRIMARY KEY,
    practice_id uuid        NOT NULL REFERENCES practices (id),
    -- The state the email is about (`registered`, `rejected`, …); a state a practice can enter
    -- more than once gets its ordinal (`integration_requested.2`).
    event       text        NOT NULL,
    -- The citizen's address as given: personal data, shown only in the citizen's own folder.
    recipient   text        NOT NULL,
    channel     text        NOT NULL CHECK (channel IN ('email', 'pec')),
    template    text        NOT NULL,
    status      text        NOT NULL CHECK (status IN ('queued', 'sent', 'failed_temporary', 'failed_permanent')),
    -- Sends tried, successful or not.
    attempts    integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error  text,
    -- Stable for (practice, event): a copy sent twice after a crash carries the same id, so the
    -- citizen's mail client shows it once.
    message_id  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz,
    UNIQUE (practice_id, event)
);
