-- 0013-maintainer-mail: the maintainer in charge of what goes out in
-- their name (issue 12).
--
-- A reply may now tell of a rejection (kind 'rejected', `patchq reject
-- --reply`) or, to its submitter alone, that a rebuild dropped a series
-- (kind 'dropped', [reply] dropNotice) or what the checks said (kind
-- 'checks', [reply] checks), and a pending reply may be withdrawn (state 'withdrawn'): a
-- rejected series' unsent replies never go out. SQLite cannot change a
-- CHECK in place: the table is made anew with the rows copied, ids kept.
CREATE TABLE outbox_new (
	id INTEGER PRIMARY KEY,
	series_id INTEGER NOT NULL REFERENCES series(id),
	queue TEXT NOT NULL,
	kind TEXT NOT NULL CHECK (kind IN ('applied', 'failed', 'rejected', 'dropped', 'checks')),
	msgid TEXT NOT NULL UNIQUE,     -- without angle brackets
	sender TEXT NOT NULL,           -- the envelope sender
	recipients TEXT NOT NULL,       -- envelope recipients, one per line
	message TEXT NOT NULL,          -- the mail, LF line ends
	state TEXT NOT NULL DEFAULT 'pending'
		CHECK (state IN ('pending', 'sent', 'failed', 'withdrawn')),
	attempts INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL DEFAULT 0, -- unix time: not before
	error TEXT,                     -- the last failure, the server's words
	created INTEGER NOT NULL,
	sent INTEGER,
	held INTEGER NOT NULL DEFAULT 0
);
INSERT INTO outbox_new SELECT id, series_id, queue, kind, msgid, sender, recipients, message,
	state, attempts, next_attempt, error, created, sent, held FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE UNIQUE INDEX outbox_failure_once ON outbox(series_id, queue) WHERE kind = 'failed';
CREATE INDEX outbox_due ON outbox(state, next_attempt);
CREATE INDEX outbox_series ON outbox(series_id);

-- A maintainer's notes on a series, given when applying it (`patchq apply
-- --note`): a patch's note (idx its number) goes into that commit's
-- message before the maintainer's Signed-off-by, as "[ Reworded the
-- title. - Miguel ]" is written in the kernel, and into the reply; the
-- series' note (idx 0) into the reply only. Kept with the series, so a
-- recovery or a rebuild makes the same commits.
CREATE TABLE note (
	series_id INTEGER NOT NULL REFERENCES series(id),
	idx INTEGER NOT NULL,           -- the patch's number, 0: the whole series
	text TEXT NOT NULL,
	PRIMARY KEY (series_id, idx)
);
