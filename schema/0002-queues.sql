-- 0002-queues: where series go, what landed on which queue, dry-run checks.

-- A series' standing on one queue: chosen by a rule, approved or rejected
-- by a maintainer, applied or failed.
CREATE TABLE series_queue (
	series_id INTEGER NOT NULL REFERENCES series(id),
	queue TEXT NOT NULL,
	state TEXT NOT NULL
		CHECK (state IN ('queued', 'approved', 'applying', 'applied', 'rejected', 'failed')),
	rule TEXT,                      -- the rule that chose the queue, NULL when by hand
	tip TEXT,                       -- 'applying': the branch tip the commits go on
	seen INTEGER,                   -- 'applying': the newest message id the commits saw
	reason TEXT,                    -- a rejection's reason, a failure's message
	updated INTEGER NOT NULL,       -- unix time
	PRIMARY KEY (series_id, queue)
);

-- Every patch that landed: Message-ID to commit, which is how patchq knows
-- what is on a queue (never by patch hash alone). A rebuild retires the
-- rows of the commits it replaced.
CREATE TABLE application (
	id INTEGER PRIMARY KEY,
	queue TEXT NOT NULL,
	series_id INTEGER NOT NULL REFERENCES series(id),
	message_id INTEGER NOT NULL REFERENCES message(id),
	msgid TEXT NOT NULL,
	commit_id TEXT NOT NULL,
	path TEXT NOT NULL CHECK (path IN ('libgit2', 'git-apply')),
	applied INTEGER NOT NULL,       -- unix time
	seen INTEGER NOT NULL,          -- the newest message id when it was applied:
	                                -- trailers from later replies arrived after
	active INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX application_queue ON application(queue, active, id);
CREATE INDEX application_msgid ON application(msgid);

-- The last dry run of a series against a queue's tip.
CREATE TABLE check_result (
	series_id INTEGER NOT NULL REFERENCES series(id),
	queue TEXT NOT NULL,
	tip TEXT NOT NULL,              -- the queue tip it was checked against
	ok INTEGER NOT NULL,
	error TEXT,                     -- file and hunk when it does not apply
	path TEXT,                      -- libgit2 or git-apply
	checked INTEGER NOT NULL,
	PRIMARY KEY (series_id, queue)
);
