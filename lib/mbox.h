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

/*
 * Tells what path holds: a maildir (a directory with cur/ or new/), a
 * public-inbox archive (a v2 top directory with git/0.git, or one git
 * repository, bare or not), a regular file (taken as mbox), or
 * PQ_SOURCE_UNKNOWN (missing, a device, an empty directory).
 */
enum pq_source_kind pq_source_detect(const char *path);

/*
 * Splits data (an mbox in memory) into messages, handing out pointers into
 * data unless a message needed ">From " unquoting. A From_ line is "From ",
 * a sender token, a space and a date (a time and a four-digit year) at the
 * start of data or of a line; other "From " lines stay in the body. The one
 * blank line the format puts after each message is dropped, the last one's
 * too; every other byte (CR, NUL) is kept. Data that does not start with a
 * From_ line is one message, "mbox:0", handed out unchanged (no unquoting).
 * Empty messages are skipped. Returns 0 or the callback's non-zero value.
 */
int pq_mbox_split(const char *data, size_t len, pq_mbox_cb cb, void *ctx);

/*
 * Maps and splits the mbox file at path (a pipe or device is read instead).
 * An empty file has no messages. Returns 0, PQ_EIO ("PATH: reason") for a
 * missing, unreadable or directory path, or the callback's value.
 */
int pq_mbox_read(const char *path, pq_mbox_cb cb, void *ctx);

/*
 * Every file of new/ and cur/ (not tmp/, not dotfiles), each whole file one
 * message, in name order across both directories (maildir names begin with
 * the delivery time, so this is about arrival order and stays stable when a
 * client moves a message from new/ to cur/). A leading From_ line, as
 * procmail writes, is dropped; empty files are skipped, and so are files
 * gone between listing and reading. Returns 0, PQ_EIO (unreadable, or
 * neither new/ nor cur/) or the callback's value.
 */
int pq_maildir_read(const char *dir, pq_mbox_cb cb, void *ctx);

/*
 * Every message of a public-inbox archive, oldest commit first (all epochs
 * git/N.git of a v2 inbox in numeric order, or path as one repository),
 * the raw mail read from blob "m" of each commit on HEAD (or, HEAD unborn,
 * on master, else on the first branch by name); commits without "m"
 * (deletions) are skipped. When since is a 40-hex commit id (a "pi:"
 * cursor is accepted too), only commits after it are read. Returns 0, the
 * callback's value, PQ_EINVAL for a malformed since, PQ_ENOTFOUND when
 * since is in no epoch's history, or PQ_EGIT with libgit2's message.
 */
int pq_pi_read(const char *path, const char *since, pq_mbox_cb cb, void *ctx);

#endif
