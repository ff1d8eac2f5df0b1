-- 0004-outbox: replies to the list, kept until the server took them.
--
-- A reply is composed in the transaction that records the application
-- (or the failure) it tells of, with its Message-ID fixed then. It is
-- marked sent only once the server accepted it, so a crash between the
-- two resends the same mail, with the same Message-ID, which lists and
-- clients drop.
CREATE TABLE outbox (
	id INTEGER PRIMARY KEY,
	series_id INTEGER NOT NULL REFERENCES series(id),
	queue TEXT NOT NULL,
	kind TEXT NOT NULL CHECK (kind IN ('applied', 'failed')),
	msgid TEXT NOT NULL UNIQUE,     -- without angle brackets
	sender TEXT NOT NULL,           -- the envelope sender
	recipients TEXT NOT NULL,       -- envelope recipients, one per line
	message TEXT NOT NULL,          -- the mail, LF line ends
	state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
	attempts INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL DEFAULT 0, -- unix time: not before
	error TEXT,                     -- the last failure, the server's words
	created INTEGER NOT NULL,
	sent INTEGER
);
-- at most one failure reply per series (a version is a series) and queue
CREATE UNIQUE INDEX outbox_failure_once ON outbox(series_id, queue) WHERE kind = 'failed';
CREATE INDEX outbox_due ON outbox(state, next_attempt);
