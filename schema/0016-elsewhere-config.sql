-- 0016-elsewhere-config: the configuration the [elsewhere] mark was read under.
--
-- config is the fingerprint (SHA-256, hex) of what decides whether a reply
-- took its series: each [elsewhere] section's name, tree and addresses,
-- and the names of our own queues and branches (a tree named like them is
-- ours). When the configuration's fingerprint differs from this one, the
-- replies are read again from the first, and the recorded ones the new
-- configuration no longer holds are forgotten. NULL (a database from
-- before this migration): read again once.
ALTER TABLE elsewhere_mark ADD COLUMN config TEXT;
