-- 0015-checks: what the configured checks ([check "NAME"]) said about a
-- series applied on a queue (issue 13).

-- One row per series, queue, check and patch (patch NULL for a check run
-- per series): the latest result there. tree is the tree checked (the
-- queue tip plus the series, or plus its patches up to this one): the
-- same check with the same command on the same tree and patch index is
-- never run twice, its row is copied (reused = 1).
CREATE TABLE series_check (
	series_id INTEGER NOT NULL REFERENCES series(id),
	queue TEXT NOT NULL,
	name TEXT NOT NULL,             -- the [check "NAME"]
	patch INTEGER,                  -- the patch's index in the series; NULL: per series
	tree TEXT NOT NULL,             -- the tree id checked
	tip TEXT NOT NULL,              -- the queue's tip the series was applied on
	command TEXT NOT NULL,          -- as configured when it ran
	state TEXT NOT NULL CHECK (state IN ('pass', 'fail', 'timeout', 'error')),
	exit INTEGER,                   -- exit status; NULL when killed or not started
	duration_ms INTEGER NOT NULL,
	output TEXT NOT NULL,           -- the last 4 KiB of stdout and stderr together
	sandbox INTEGER NOT NULL,       -- 1: ran under bubblewrap
	ran INTEGER NOT NULL,           -- unix time it ran (the original run when reused)
	reused INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX series_check_key ON series_check(series_id, queue, name, IFNULL(patch, -1));
CREATE INDEX series_check_tree ON series_check(name, tree);

-- [reply] checks: one reply per series (a version) telling what the
-- checks said, never two.
CREATE UNIQUE INDEX outbox_checks_once ON outbox(series_id) WHERE kind = 'checks';
