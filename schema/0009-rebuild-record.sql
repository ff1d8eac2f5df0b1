-- 0009-rebuild-record: what each rebuild did, so the maintainer's to-do can
-- say what the last one dropped; and the indexes the to-do and the series
-- listing read by.

-- One row per rebuild of a queue that completed (its rows committed with
-- the new application rows).
CREATE TABLE rebuild (
	id INTEGER PRIMARY KEY,
	queue TEXT NOT NULL,
	base TEXT NOT NULL,             -- the base tip it was built on
	tip TEXT NOT NULL,              -- the queue's branch after it
	kept INTEGER NOT NULL,          -- series it applied again
	rebuilt INTEGER NOT NULL        -- unix time
);
CREATE INDEX rebuild_queue ON rebuild(queue, id);

-- The series a rebuild left out because they no longer applied: the
-- version it tried (the newest complete one) and, when that is a newer
-- version, the one that was on the queue before.
CREATE TABLE rebuild_drop (
	rebuild_id INTEGER NOT NULL REFERENCES rebuild(id),
	series_id INTEGER NOT NULL REFERENCES series(id),
	replaced INTEGER REFERENCES series(id),
	reason TEXT NOT NULL,
	PRIMARY KEY (rebuild_id, series_id)
);

-- The series waiting on a queue (state queued) and the listing by state.
CREATE INDEX series_queue_state ON series_queue(queue, state);
CREATE INDEX series_state ON series(state);

-- A series' rows on a queue, and a patch's: the to-do and `patchq show`
-- look them up per series and per patch (application_queue would scan the
-- whole queue for each).
CREATE INDEX application_series ON application(series_id, queue);
CREATE INDEX application_message ON application(message_id);
