-- 0003-triage-mark: which series triage must look at again.
--
-- A series no rule took stays 'new'; triage looks at it again only when
-- something arrived since (a patch of it, or a reply in its thread with
-- new trailers), not at every pass: the daemon triages after every batch.
-- triaged is the highest message id there was when triage last decided.
ALTER TABLE series ADD COLUMN triaged INTEGER;
