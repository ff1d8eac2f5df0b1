-- 0001-initial: raw mail, parsed messages, threads, series, trailers.
--
-- Every byte that arrived is kept in raw; message is what parsing made of
-- it. A message is named by its Message-ID and told apart from a reused
-- Message-ID by the hash of its content.

-- Raw bytes are written once and never updated (rewriting a row would
-- rewrite its blob); what a delivery was and where it went is in delivery.
CREATE TABLE raw (
	id INTEGER PRIMARY KEY,
	hash BLOB NOT NULL UNIQUE,      -- SHA-256 of the bytes: one row per distinct delivery
	bytes BLOB NOT NULL
);

CREATE TABLE delivery (
	raw_id INTEGER PRIMARY KEY REFERENCES raw(id),
	message_id INTEGER NOT NULL REFERENCES message(id),
	source TEXT NOT NULL,           -- where it was first read (source and cursor)
	received INTEGER NOT NULL,      -- unix time it was stored
	duplicate INTEGER NOT NULL DEFAULT 0  -- 1: the message was already stored (re-delivery)
);
CREATE INDEX delivery_message ON delivery(message_id);

CREATE TABLE message (
	id INTEGER PRIMARY KEY,         -- arrival order
	raw_id INTEGER NOT NULL REFERENCES raw(id), -- its first delivery
	msgid TEXT NOT NULL,            -- without angle brackets
	msgid_derived INTEGER NOT NULL DEFAULT 0, -- 1: made from the content, the mail had none
	content_hash BLOB NOT NULL,     -- SHA-256 of sender, subject and decoded body
	kind TEXT NOT NULL CHECK (kind IN ('patch', 'cover', 'reply', 'pull', 'other', 'unparsable')),
	error TEXT,                     -- why parsing failed, for kind 'unparsable' or a partial parse
	subject TEXT,
	name TEXT,                      -- subject without reply markers and bracket prefix
	author TEXT,                    -- in-body From: wins over the header
	email TEXT,
	sender_email TEXT,              -- header From: address (who sent the mail)
	date INTEGER,                   -- unix time from Date:, NULL when unusable
	date_raw TEXT,
	in_reply_to TEXT,
	version INTEGER,
	idx INTEGER,
	total INTEGER,
	tags TEXT,                      -- prefix tags, space separated
	rfc INTEGER NOT NULL DEFAULT 0,
	resend INTEGER NOT NULL DEFAULT 0,
	body TEXT,                      -- commit message, cover text or reply text
	diff TEXT,
	files TEXT,                     -- paths touched, one per line
	pull_url TEXT,
	pull_branch TEXT,
	base_commit TEXT,
	change_id TEXT,
	series_id INTEGER REFERENCES series(id),
	UNIQUE (msgid, content_hash)
);
CREATE INDEX message_msgid ON message(msgid);
CREATE INDEX message_series ON message(series_id);

-- The threading headers of each message, oldest reference first and
-- In-Reply-To last: enough to rebuild threads in any arrival order.
CREATE TABLE ref (
	message_id INTEGER NOT NULL REFERENCES message(id),
	pos INTEGER NOT NULL,
	msgid TEXT NOT NULL,
	PRIMARY KEY (message_id, pos)
);
CREATE INDEX ref_msgid ON ref(msgid);

CREATE TABLE series (
	id INTEGER PRIMARY KEY,
	name TEXT,
	version INTEGER NOT NULL,
	version_explicit INTEGER NOT NULL DEFAULT 0,
	total INTEGER NOT NULL,
	submitter TEXT,                 -- sender address
	submitter_name TEXT,
	cover_id INTEGER REFERENCES message(id),
	supersedes INTEGER REFERENCES series(id),
	date INTEGER,                   -- date of its first message
	change_id TEXT,
	state TEXT NOT NULL DEFAULT 'new'
);

CREATE INDEX series_change_id ON series(change_id) WHERE change_id IS NOT NULL;
CREATE INDEX series_submitter ON series(submitter COLLATE NOCASE, name);

-- Message-IDs known to belong to a series: its members and what they
-- reference. A late cover letter or patch finds its series through them.
CREATE TABLE series_ref (
	msgid TEXT NOT NULL,
	series_id INTEGER NOT NULL REFERENCES series(id),
	PRIMARY KEY (msgid, series_id)
) WITHOUT ROWID;

-- Trailers as written: in a patch's own commit message (origin 'commit')
-- or in a reply (origin 'reply'); which patch a reply's trailer applies to
-- is worked out when the series is read, so arrival order does not matter.
CREATE TABLE trailer (
	message_id INTEGER NOT NULL REFERENCES message(id),
	pos INTEGER NOT NULL,
	origin TEXT NOT NULL CHECK (origin IN ('commit', 'reply')),
	name TEXT NOT NULL,
	value TEXT NOT NULL,
	email TEXT,
	extinfo TEXT,
	PRIMARY KEY (message_id, pos)
);

-- Where each source stopped reading, stored with the messages it produced.
CREATE TABLE cursor (
	source TEXT PRIMARY KEY,
	position TEXT NOT NULL
);

-- Threads: each message with the root its references name (the oldest
-- reference; a message without references is a root itself).
CREATE VIEW thread AS
SELECT m.id AS message_id,
       coalesce((SELECT r.msgid FROM ref r WHERE r.message_id = m.id AND r.pos = 0),
                m.msgid) AS root
FROM message m;
