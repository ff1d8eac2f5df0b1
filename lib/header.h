/*
 * header: the one writer of the header fields patchq puts in mail.
 *
 * Every field of a reply to the list and of an am-ready mbox is written by
 * pq_header_add(): it refuses a field name that is not one and a value
 * holding control characters (CR, LF, NUL, ESC, DEL, C1) or invalid UTF-8,
 * so nothing that came from mail can start a field or a line of its own;
 * it writes text that is not ASCII as RFC 2047 encoded words where asked;
 * and it folds the field at white space so that its lines keep to 78
 * characters where the words allow and never pass 998 (RFC 5322 2.1.1).
 * The fields end with LF; the transports turn that into CRLF.
 */
#ifndef PQ_HEADER_H
#define PQ_HEADER_H

#include <stddef.h>

#include "buf.h"

/* Lines of a field: the length kept to where possible, and the hard limit
 * (both without the line end). */
#define PQ_HEADER_LINE 78
#define PQ_HEADER_LINE_MAX 998

enum {
	/* unstructured text (Subject, a display name): written as RFC 2047
	 * encoded words (UTF-8, base64) when it is not ASCII, and when it has
	 * a word too long for a line of 998 */
	PQ_HEADER_ENCODE = 1 << 0,
	/* what is not encoded may be UTF-8 as it is (RFC 6532: an 8bit mbox
	 * for git am, a Message-ID or address that is not ASCII) */
	PQ_HEADER_UTF8 = 1 << 1,
};

/* One address of an address field. */
struct pq_header_addr {
	const char *name;  /* display name, UTF-8; NULL or "" for none */
	const char *email; /* the address; see pq_header_address_ok() */
};

/*
 * Appends "name: value" to out, folded, ending in LF. Without a flag the
 * value must be ASCII. White space inside double quotes is never a fold.
 * Returns 0, or PQ_EINVAL (a bad name, a control character or invalid
 * UTF-8 in the value, non-ASCII text without a flag allowing it) or
 * PQ_ELIMIT (a word too long for a line of 998) with the field named in
 * pq_error_last(); out is unchanged then.
 */
int pq_header_add(struct pq_buf *out, const char *name, const char *value, unsigned flags);

/*
 * An address field ("From", "To", "Cc") of n addresses, one a line,
 * through pq_header_add(): a display name that is not ASCII is encoded
 * with PQ_HEADER_ENCODE or without PQ_HEADER_UTF8 (which lets an address
 * that is not ASCII through), one with specials quoted, a name equal to the
 * address left out. Nothing is written for n == 0. Returns 0 or
 * pq_header_add()'s errors; PQ_EINVAL for an address
 * pq_header_address_ok() refuses.
 */
int pq_header_add_addresses(struct pq_buf *out, const char *name, const struct pq_header_addr *v,
			    size_t n, unsigned flags);

/*
 * 1 when email can be written in a header and given to SMTP as it is:
 * one '@' with text on both sides, at most 254 bytes, valid UTF-8, no white
 * space, control characters or any of "<>()[],;:\\\"". 0 otherwise.
 */
int pq_header_address_ok(const char *email);

#endif
