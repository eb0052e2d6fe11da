-- A citizen's integration names the practice it answers. Intake takes the submission as it
-- comes; whether that practice exists, is the citizen's and waits for it is validation's
-- verdict, told to the citizen in Italian. A foreign key would turn a mistyped id into a
-- database error at intake instead.
ALTER TABLE practices DROP CONSTRAINT IF EXISTS practices_integrates_fkey;
