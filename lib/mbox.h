/*
 * mbox: where raw messages come from on disk.
 *
 * Splits mbox/mboxrd files, reads maildirs and public-inbox git archives,
 * and hands every message to a callback as raw bytes with a cursor that
 * names its position (for resuming and for reporting). The first stage of
 * the flow: what it hands out goes to ingest unchanged.
 */
#ifndef PQ_MBOX_H
#define PQ_MBOX_H

#include <stddef.h>

/*
 * Receives one message: raw is len bytes (From_ line removed, mboxrd
 * ">From " quoting undone), valid only during the call. cursor names the
 * message in its source: "mbox:OFFSET", "maildir:new/NAME",
 * "pi:COMMIT-ID". A non-zero return stops the reading and is returned by the
 * reader.
 */
typedef int (*pq_mbox_cb)(void *ctx, const char *raw, size_t len, const char *cursor);

enum pq_source_kind {
	PQ_SOURCE_UNKNOWN = 0,
	PQ_SOURCE_MBOX,
	PQ_SOURCE_MAILDIR,
	PQ_SOURCE_PUBLIC_INBOX,
};

/* Tells what path holds: a maildir (cur/ new/ tmp/), a public-inbox
 * repository (v2 top directory with git/N.git, or one git repository whose
 * commits hold blob "m"), or a file (taken as mbox). */
enum pq_source_kind pq_source_detect(const char *path);

/* Splits data (an mbox in memory) into messages. A file that does not start
 * with a From_ line is one single message. Returns 0 or the callback's
 * non-zero value. */
int pq_mbox_split(const char *data, size_t len, pq_mbox_cb cb, void *ctx);

/* Maps and splits the mbox file at path. Returns 0, a negative PQ_E* code
 * (unreadable file) or the callback's value. */
int pq_mbox_read(const char *path, pq_mbox_cb cb, void *ctx);

/* Every file of new/ and cur/ in name order. Returns as pq_mbox_read(). */
int pq_maildir_read(const char *dir, pq_mbox_cb cb, void *ctx);

/*
 * Every message of a public-inbox archive, oldest commit first (all epochs
 * of a v2 inbox in order), the raw mail read from blob "m" of each commit.
 * When since is a commit id, only commits after it are read. Returns as
 * pq_mbox_read(), PQ_EGIT with a message for a broken repository.
 */
int pq_pi_read(const char *path, const char *since, pq_mbox_cb cb, void *ctx);

#endif
