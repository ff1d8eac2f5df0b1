/*
 * maildir: the message files of a maildir, and the move that marks one read.
 *
 * A maildir holds one message per file: in tmp/ while it is written, in
 * new/ once delivered, in cur/ once a reader has seen it. A file's name
 * begins with its delivery time and is unique in the maildir; what follows
 * a ':' is the "info" (flags) a reader may change. This module lists new/
 * and cur/, reads a file as one raw message, and moves a file of new/ to
 * cur/. Which files a source reads and when it moves them is source.c's.
 */
#ifndef PQ_MAILDIR_H
#define PQ_MAILDIR_H

#include <stddef.h>

#include "buf.h"

struct pq_maildir_file {
	char *name; /* the file name in its directory, info (":2,S") included */
	int in_new; /* 1: in new/, 0: in cur/ */
};

struct pq_maildir_list {
	struct pq_maildir_file *v;
	size_t n;
	size_t alloc;
};

#define PQ_MAILDIR_LIST_INIT \
	{                    \
		NULL, 0, 0   \
	}

/*
 * Lists the entries of new/ and cur/ of dir (not tmp/, not dotfiles) into
 * *out, which must be empty (PQ_MAILDIR_LIST_INIT), ordered by unique name
 * (the part before ':'; the delivery order), new/ first on a tie. An entry
 * of cur/ whose unique name does not sort after cur_after is left out
 * (NULL or "": none is). Entries are listed as they are: pq_maildir_load()
 * tells messages from the rest. A missing new/ or cur/ is no error; both
 * missing is. Returns 0 or PQ_EIO ("DIR/new: reason", "DIR: not a maildir
 * (no new/ or cur/)"). Free with pq_maildir_list_free(), after a failure
 * too.
 */
int pq_maildir_list(struct pq_maildir_list *out, const char *dir, const char *cur_after);

/* Frees what the list holds and empties it. */
void pq_maildir_list_free(struct pq_maildir_list *l);

/* The length of name's unique part: up to its first ':', or all of it. */
size_t pq_maildir_unique_len(const char *name);

/*
 * Reads file f of the maildir dir into b (replacing what b held) and sets
 * *raw and *len to the message in b: the whole file less a leading From_
 * line (the envelope line procmail and some fetchers write). *len is 0 for
 * an empty file. Returns 0, or 1 when the entry is no message: gone since
 * the listing (a mail client moved it) or not a regular file (a FIFO or a
 * directory, looked at without blocking), or PQ_EIO ("PATH: reason") for a
 * file that cannot be read.
 */
int pq_maildir_load(const char *dir, const struct pq_maildir_file *f, struct pq_buf *b,
		    const char **raw, size_t *len);

/*
 * Moves f from new/ to cur/, adding the info ":2," when its name has none,
 * as a mail client marks a message seen. A file of cur/ is left where it
 * is. Returns 0, 1 when the file is gone (moved by someone else), or
 * PQ_EIO ("cannot move NAME to cur/: reason").
 */
int pq_maildir_claim(const char *dir, const struct pq_maildir_file *f);

#endif
