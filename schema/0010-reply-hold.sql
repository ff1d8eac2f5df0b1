-- 0010-reply-hold: replies that wait for a maintainer's release.

-- 1: composed but held ([reply] hold, or `patchq outbox hold`): it is not
-- sent until a maintainer releases it (`patchq outbox release`, the desk).
ALTER TABLE outbox ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
