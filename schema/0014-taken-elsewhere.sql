-- 0014-taken-elsewhere: series another tree took, the merge window's hold,
-- and what a rebuild did to a series on its queue.

-- A reply from a maintainer of another tree ([elsewhere]) saying it was
-- applied there ("Applied to linux-kbuild, thanks!"). The series it
-- answers are found through its references when read (a series is taken
-- elsewhere when such a reply refers to one of its messages), so the order
-- mail arrives in does not matter.
CREATE TABLE elsewhere_reply (
	message_id INTEGER PRIMARY KEY REFERENCES message(id),
	tree TEXT NOT NULL,             -- the tree (and branch) it names, or the section's
	by TEXT NOT NULL,               -- the sender's address
	found INTEGER NOT NULL          -- unix time
);

-- How far the replies were read for [elsewhere] (the highest message id).
CREATE TABLE elsewhere_mark (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	seen INTEGER NOT NULL
);

-- series_queue again, with two changes (SQLite cannot change a CHECK in
-- place: the table is made anew, rows copied):
--  * state 'superseded' on a queue: a rebuild put a newer version in its
--    place (reason says which, when);
--  * held: why automatic intake waits (the merge window is open), NULL
--    when it does not; the series stays queued until the hold ends.
CREATE TABLE series_queue_new (
	series_id INTEGER NOT NULL REFERENCES series(id),
	queue TEXT NOT NULL,
	state TEXT NOT NULL
		CHECK (state IN ('queued', 'approved', 'applying', 'applied', 'rejected', 'failed',
				 'superseded')),
	rule TEXT,                      -- the rule that chose the queue, NULL when by hand
	tip TEXT,                       -- 'applying': the branch tip the commits go on
	seen INTEGER,                   -- 'applying': the newest message id the commits saw
	reason TEXT,                    -- a rejection's reason, a failure's message
	updated INTEGER NOT NULL,       -- unix time
	held TEXT,                      -- 'queued' by an automatic rule: why it waits
	PRIMARY KEY (series_id, queue)
);
INSERT INTO series_queue_new (series_id, queue, state, rule, tip, seen, reason, updated)
	SELECT series_id, queue, state, rule, tip, seen, reason, updated FROM series_queue;
DROP TABLE series_queue;
ALTER TABLE series_queue_new RENAME TO series_queue;
CREATE INDEX series_queue_state ON series_queue(queue, state);
