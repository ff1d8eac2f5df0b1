-- 0006-trailer-accept-reroll: a maintainer's word on a review trailer whose
-- address is not its sender's, and partial rerolls.

-- A trailer from a reply that counts for a series although its address
-- differs from the reply's sender (a reviewer's other address), because a
-- maintainer said so (`patchq trailer accept`): who, and when.
CREATE TABLE trailer_accept (
	series_id INTEGER NOT NULL REFERENCES series(id),
	message_id INTEGER NOT NULL,    -- the reply: trailer.message_id
	pos INTEGER NOT NULL,           -- trailer.pos
	who TEXT NOT NULL,              -- "Name <email>" of the maintainer, or a login
	accepted INTEGER NOT NULL,      -- unix time
	PRIMARY KEY (series_id, message_id, pos),
	FOREIGN KEY (message_id, pos) REFERENCES trailer(message_id, pos)
);

-- A partial reroll, as b4 reads one: a new version of some patches of a
-- series, each sent in reply to the patch of the earlier version it
-- replaces ("[PATCH v3 2/5]" answering v2's 2/5). The series is that
-- version's patches in the places it leaves empty.
ALTER TABLE series ADD COLUMN reroll_of INTEGER REFERENCES series(id);

-- A series is complete when every patch 1..total of it is stored, or, for
-- a partial reroll, stored in the version it rerolls. Every query that
-- needs "complete" reads this view, never its own count.
DROP VIEW complete_series;
CREATE VIEW complete_series AS
SELECT s.* FROM series s
WHERE (SELECT count(DISTINCT m.idx) FROM message m
       WHERE m.series_id IN (s.id, s.reroll_of) AND m.idx BETWEEN 1 AND s.total) = s.total;
