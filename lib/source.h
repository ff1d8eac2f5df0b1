/*
 * source: where mail comes from, behind one interface.
 *
 * A source is an mbox file, standard input, a maildir, a public-inbox
 * archive or an IMAP mailbox. pq_source_read() reads the messages after
 * the source's cursor (stored in the database under the source's name),
 * hands them to ingest (ingest.h) and commits them together with the new
 * cursor, so that a crash at any moment loses and repeats nothing. patchqd
 * and `patchq import` read through this same code: the same mail gives the
 * same raw bytes and the same rows whichever program read it.
 *
 * Each kind owns its cursor, the text stored as the source's position:
 *
 *   mbox, stdin    "mbox:OFFSET", the byte offset of the last message's
 *                  From_ line. Recorded, never used to skip: an mbox can
 *                  be rewritten in place, so it is read whole every time
 *                  (ingest drops what it already has).
 *   maildir        "maildir:NAME", the greatest unique name (the part of a
 *                  file name before ':') read so far. Every file of new/
 *                  is read, and the files of cur/ whose unique name sorts
 *                  after NAME: cur/ holds what patchq moved there after
 *                  reading it (PQ_SOURCE_CLAIM) and what a mail client
 *                  moved there, which, delivered later, has a later name.
 *                  A first read (no cursor) takes all of cur/.
 *                  ("maildir:new/NAME" and "maildir:cur/NAME:INFO", as
 *                  older versions wrote, are understood.)
 *   public-inbox   "pi:COMMIT-ID" of the last commit read; the commits
 *                  after it are read next (the history is append-only).
 *   imap           "UIDVALIDITY:UID" of the last message read; the UIDs
 *                  above it are read next. When the mailbox's UIDVALIDITY
 *                  is no longer the cursor's, every UID changed meaning:
 *                  the mailbox is read again from the start (ingest drops
 *                  what it has) and a warning says so.
 *
 * A maildir message is the whole file less a leading From_ line (procmail
 * writes one); entries that are not regular files (a FIFO, a directory)
 * and empty files are no messages. With PQ_SOURCE_CLAIM (patchqd) each
 * file read from new/ is moved to cur/ once the transaction that holds its
 * message has committed; without it (`patchq import`) nothing is moved.
 *
 * An IMAP source keeps its connection, its IDLE state and the mailbox's
 * UIDVALIDITY between reads; the password is read when it connects and
 * wiped from memory once used. A source is used by one thread at a time.
 */
#ifndef PQ_SOURCE_H
#define PQ_SOURCE_H

#include <stddef.h>

#include "config.h"
#include "ingest.h"
#include "store.h"

enum pq_source_kind {
	PQ_SOURCE_UNKNOWN = 0,
	PQ_SOURCE_MBOX,
	PQ_SOURCE_MAILDIR,
	PQ_SOURCE_PUBLIC_INBOX,
	PQ_SOURCE_IMAP,
	PQ_SOURCE_STDIN,
};

/*
 * Tells what path holds: a maildir (a directory with cur/ or new/), a
 * public-inbox archive (a v2 top directory with git/0.git, or one git
 * repository, bare or not), a regular file (taken as mbox), or
 * PQ_SOURCE_UNKNOWN (missing, a device, an empty directory).
 */
enum pq_source_kind pq_source_detect(const char *path);

/* Flags of struct pq_source_spec. */
enum {
	/* maildir: move each file read from new/ to cur/ once its message is committed */
	PQ_SOURCE_CLAIM = 1,
};

struct pq_source_spec {
	/*
	 * Either conf, a [source] section of the configuration (its type,
	 * path and IMAP settings), or kind and path: PQ_SOURCE_UNKNOWN
	 * detects the kind of path; PQ_SOURCE_STDIN needs no path.
	 */
	const struct pq_source_conf *conf;
	enum pq_source_kind kind;
	const char *path;
	const char *mailbox; /* imap: the mailbox; NULL: conf's first */
	const char *name;    /* the name the cursor is stored under (required) */
	unsigned flags;	     /* PQ_SOURCE_CLAIM */
	/* Called, when not NULL, on the reading thread with a one-line
	 * warning (a file skipped, a file not moved, UIDVALIDITY changed);
	 * the reading goes on. */
	void (*warn)(void *ctx, const char *msg);
	/* Called, when not NULL, every 256 messages read. */
	void (*progress)(void *ctx, const struct pq_ingest_stats *st);
	void *ctx;
};

struct pq_source_stats {
	struct pq_ingest_stats ingest; /* what this read handed to ingest */
	size_t unreadable;	       /* maildir files that could not be read (warned) */
	size_t backlog; /* messages known to wait after this read (0: none or unknown) */
	int more;	/* max was reached with more to read: read again */
};

struct pq_source;

/*
 * Makes a source from spec (copied: nothing in it need outlive the call).
 * Nothing is read or connected yet. Returns 0, or PQ_EINVAL with the
 * reason (no name, a path of no known kind: "PATH: not an mbox file,
 * maildir or public-inbox", an IMAP source without conf). Free with
 * pq_source_free().
 */
int pq_source_open(struct pq_source **out, const struct pq_source_spec *spec);

/*
 * Reads up to max messages (0: all) after the stored cursor into s, in one
 * transaction with the new cursor when max is given (else in ingest's
 * batches, each with its cursor), and fills *st (on failure too, with what
 * was read and committed). An IMAP source leaves IDLE, connects and
 * selects the mailbox first when it has to. Returns 0; PQ_EINVAL (max
 * given for an mbox or standard input, which cannot resume); PQ_EDB from
 * ingest (the open transaction rolled back, nothing moved); PQ_EIO
 * (unreadable file or directory, network, password file); PQ_EPERM (a
 * password file others may read); PQ_EAUTH, PQ_ENOTFOUND (IMAP login or
 * mailbox refused; a public-inbox cursor not in the history); PQ_EGIT;
 * PQ_ELIMIT. After an IMAP failure the connection is closed: the next read
 * connects again.
 */
int pq_source_read(struct pq_source *src, struct pq_store *s, size_t max,
		   struct pq_source_stats *st);

/* 1 when the source can wait in IDLE: IMAP, connected, the server has IDLE. */
int pq_source_can_idle(const struct pq_source *src);

/*
 * Enters IDLE; pq_source_idle_fd() then gives the socket to watch for
 * readability. *pending is set to 1 when the server's news is already
 * buffered (read at once instead of waiting), else 0. Until the next
 * pq_source_read() (which leaves IDLE) or pq_source_idle_stop(), nothing
 * else may be asked of the source. Returns 0, PQ_EINVAL when it cannot
 * idle (see pq_source_can_idle()), PQ_EIO (the connection is then closed).
 */
int pq_source_idle_start(struct pq_source *src, int *pending);

/* Leaves IDLE (0 when not idling). Returns 0 or PQ_EIO (connection closed). */
int pq_source_idle_stop(struct pq_source *src);

/* The socket an idling source waits on (borrowed; valid until the next read or free), or -1. */
int pq_source_idle_fd(const struct pq_source *src);

/* 1 when the source holds a network connection, whose close may wait on the server. */
int pq_source_connected(const struct pq_source *src);

/* The directory whose arrivals mean new mail (maildir: PATH/new), or NULL; borrowed. */
const char *pq_source_watch_dir(const struct pq_source *src);

/* Closes the connection (LOGOUT, bounded by the timeout) and frees. NULL is fine. */
void pq_source_free(struct pq_source *src);

#endif
