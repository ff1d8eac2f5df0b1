/*
 * mbox: mbox and mboxrd files split into messages.
 *
 * Hands every message of an mbox (a file, standard input or data in
 * memory) to a callback as raw bytes with a cursor that names its
 * position. The callback type is shared by the other readers (maildir.h,
 * pinbox.h); source.h puts them all behind one interface.
 */
#ifndef PQ_MBOX_H
#define PQ_MBOX_H

#include <stddef.h>

/*
 * Receives one message: raw is len bytes (From_ line removed, mboxrd
 * ">From " quoting undone), valid only during the call. cursor names the
 * message in its source ("mbox:OFFSET" here, "pi:COMMIT-ID" for
 * public-inbox). A non-zero return stops the reading and is returned by
 * the reader.
 */
typedef int (*pq_mbox_cb)(void *ctx, const char *raw, size_t len, const char *cursor);

/*
 * Whether the line (len bytes, without its newline) is an mbox separator:
 * "From ", a sender token, a space and a date (a time and a four-digit
 * year). 1 or 0. Prose such as "From the looks of it" is not one.
 */
int pq_mbox_is_from_line(const char *line, size_t len);

/*
 * Splits data (an mbox in memory) into messages, handing out pointers into
 * data unless a message needed ">From " unquoting. A From_ line is "From ",
 * a sender token, a space and a date (a time and a four-digit year) at the
 * start of data or of a line; other "From " lines stay in the body. The one
 * blank line the format puts after each message is dropped, the last one's
 * too; every other byte (CR, NUL) is kept. Blank lines before the first
 * From_ line are skipped, as git mailsplit skips them; data that does not
 * start with a From_ line after them is one message, "mbox:0", handed out
 * unchanged (no unquoting).
 * Empty messages are skipped. The cursor "mbox:OFFSET" is the byte offset
 * of the message's From_ line. Returns 0 or the callback's non-zero value.
 */
int pq_mbox_split(const char *data, size_t len, pq_mbox_cb cb, void *ctx);

/*
 * Maps and splits the mbox file at path (a pipe or device is read instead).
 * An empty file has no messages. Returns 0, PQ_EIO ("PATH: reason") for a
 * missing, unreadable or directory path, PQ_ELIMIT for a file too large to
 * map, or the callback's value.
 */
int pq_mbox_read(const char *path, pq_mbox_cb cb, void *ctx);

/*
 * The same for standard input (mapped when it is a regular file, else read
 * to its end; not closed). Errors say "standard input: reason".
 */
int pq_mbox_read_stdin(pq_mbox_cb cb, void *ctx);

#endif
