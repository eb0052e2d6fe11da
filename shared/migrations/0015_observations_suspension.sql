-- A preavviso di rigetto (art. 10-bis L. 241/1990) suspends the term for the citizen's
-- observations, besides the one integration suspension of art. 2 c.7.
ALTER TABLE procedure_clocks DROP CONSTRAINT procedure_clocks_suspension_kind_check;
ALTER TABLE procedure_clocks ADD CONSTRAINT procedure_clocks_suspension_kind_check
    CHECK (suspension_kind IN ('integration', 'observations'));
