-- A staged upload is a document of one practice only: a sender who learned another sender's
-- upload key cannot file that object as their own. Intake's own staging copies are unique by
-- construction (practice id and position are in the key).
CREATE UNIQUE INDEX practice_documents_one_claim_per_staged_key
    ON practice_documents (staged_key) WHERE staged_key IS NOT NULL;
