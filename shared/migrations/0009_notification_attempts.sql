-- An attempt is counted before it starts: the row says `sending`, with one more attempt and the
-- time it began, in a commit made before the SMTP transaction opens, and is settled right after
-- the relay's reply. A worker killed in between leaves `sending` behind; the redelivered event
-- finds it and tries again (same Message-ID), so `attempts` is never less than the copies the
-- relay may have taken.

ALTER TABLE notifications DROP CONSTRAINT notifications_status_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_status_check
    CHECK (status IN ('queued', 'sending', 'sent', 'failed_temporary', 'failed_permanent'));

-- When the latest attempt began (NULL: none yet).
ALTER TABLE notifications ADD COLUMN attempt_started_at timestamptz;
