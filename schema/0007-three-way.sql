-- 0007-three-way: a patch may go in by a three-way merge (git am -3), and
-- the record says so. SQLite cannot change a CHECK in place: the table is
-- made anew with the rows copied, ids kept (the order of a queue).

DROP VIEW queue_series;
CREATE TABLE application_new (
	id INTEGER PRIMARY KEY,
	queue TEXT NOT NULL,
	series_id INTEGER NOT NULL REFERENCES series(id),
	message_id INTEGER NOT NULL REFERENCES message(id),
	msgid TEXT NOT NULL,
	commit_id TEXT NOT NULL,
	path TEXT NOT NULL CHECK (path IN ('libgit2', 'git-apply', 'three-way')),
	applied INTEGER NOT NULL,       -- unix time
	seen INTEGER NOT NULL,          -- the newest message id when it was applied:
	                                -- trailers from later replies arrived after
	active INTEGER NOT NULL DEFAULT 1
);
INSERT INTO application_new SELECT id, queue, series_id, message_id, msgid, commit_id, path,
	applied, seen, active FROM application;
DROP TABLE application;
ALTER TABLE application_new RENAME TO application;
CREATE INDEX application_queue ON application(queue, active, id);
CREATE INDEX application_msgid ON application(msgid);
CREATE VIEW queue_series AS
SELECT queue, series_id, min(id) AS position FROM application
WHERE active GROUP BY queue, series_id;
