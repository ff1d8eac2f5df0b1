-- 0008-desk: the maintainers the desk knows, and what they did.

-- A maintainer's token for the desk's actions (`patchq token new NAME`):
-- only its SHA-256 is kept; the token itself is printed once.
CREATE TABLE token (
	name TEXT PRIMARY KEY,          -- who: "Miguel", an address, a login
	hash TEXT NOT NULL UNIQUE,      -- hex SHA-256 of the token
	created INTEGER NOT NULL,       -- unix time
	used INTEGER                    -- unix time of its last use, NULL: never
);

-- Every action a maintainer took on a series (or a queue, or a reply),
-- from the CLI or the desk: who, what, when, and why when they said.
CREATE TABLE action (
	id INTEGER PRIMARY KEY,
	series_id INTEGER REFERENCES series(id), -- NULL: an action on a queue or reply only
	queue TEXT,
	what TEXT NOT NULL,             -- approve, reject, apply, rebuild, retry, ...
	who TEXT NOT NULL,
	reason TEXT,
	at INTEGER NOT NULL             -- unix time
);
CREATE INDEX action_series ON action(series_id, id);
