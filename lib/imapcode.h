/*
 * imapcode: the screen of an IMAP server's response codes.
 *
 * libetpan 1.9 parses the bracketed code of a status response ("* OK
 * [PERMANENTFLAGS (...)] text") and crashes on some malformed ones: a
 * flag list that is not closed frees a list it never made, a charset list
 * it cannot read sends it after a literal through a stream it does not
 * have. imap.c shows
 * this screen every response line before libetpan reads it, and refuses
 * the server's answer when the code is not what RFC 3501 (and the
 * extensions libetpan knows) allow: a server that sends such a line gets
 * its session ended, not the daemon.
 *
 * Pure functions, no state.
 */
#ifndef PQ_IMAPCODE_H
#define PQ_IMAPCODE_H

#include <stddef.h>

/*
 * Checks the line line[0..len): the start of a response line without its
 * CRLF, up to and with the first literal it announces ("{N}": a code is
 * over before one), or the first len bytes of a longer one. Returns NULL
 * when it holds no response code or a well-formed one, else why it is
 * refused (a static string). A code that is not closed within len is
 * refused: the caller keeps enough of a line for any real one.
 */
const char *pq_imap_code_check(const char *line, size_t len);

/*
 * Whether the line starting line[0..len) is a continuation request or a
 * status response ("* OK ...", "A1 NO ..."), whose rest is text: 1 or 0.
 * libetpan reads no literal in text, so a "{N}" ending such a line
 * announces nothing, and what follows is the next line.
 */
int pq_imap_line_is_text(const char *line, size_t len);

#endif
