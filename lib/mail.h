/*
 * mail: one raw RFC 5322 message to a decoded message.
 *
 * Header fields are unfolded, RFC 2047 words decoded and every text turned
 * to valid UTF-8 (bogus or missing charsets fall back to UTF-8 when the bytes
 * are valid, else Windows-1252). The MIME tree is walked with libetpan: the
 * text/plain parts and attached patches are decoded from their transfer
 * encoding and charset and joined into one body with LF line ends; HTML
 * alternatives and binary attachments are left out. This is the edge where
 * mail bytes become text: everything after it works on UTF-8.
 */
#ifndef PQ_MAIL_H
#define PQ_MAIL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#include "digest.h"

#define PQ_MAIL_HASH_LEN PQ_DIGEST_LEN

struct pq_mail_limits {
	size_t max_size;    /* bytes of one raw message */
	size_t max_headers; /* header fields */
	unsigned max_depth; /* MIME nesting */
	size_t max_refs;    /* References kept (the most recent ones) */
};

/* 64 MiB, 2,000 header fields, MIME depth 16, 256 references. */
extern const struct pq_mail_limits pq_mail_default_limits;

struct pq_mail {
	char *msgid;	   /* without angle brackets; derived when absent */
	int msgid_derived; /* 1 when the mail had no usable Message-ID */
	char **refs;	   /* References oldest first, In-Reply-To last */
	size_t nrefs;
	char *in_reply_to; /* first Message-ID of In-Reply-To, or NULL */
	char *subject;	   /* "" when absent */
	char *from_name;   /* display name, "" when absent */
	char *from_email;  /* address, "" when absent */
	char *date_raw;	   /* the Date: field as written, "" when absent */
	int64_t date;	   /* unix time; valid only when date_valid */
	int date_valid;
	int date_offset;    /* the Date: zone in minutes east of UTC */
	char *to;	    /* decoded To:, "" when absent */
	char *cc;	    /* decoded Cc:, "" when absent */
	char *list_id;	    /* decoded List-Id:, "" when absent */
	struct pq_buf body; /* decoded text of the message, UTF-8, LF */
	size_t *nul_at;	    /* where body had a NUL byte: offsets of the
							 U+FFFD that stands for it, ascending */
	size_t nnul;
	char *warning;				      /* what was repaired or left out, or NULL */
	unsigned char content_hash[PQ_MAIL_HASH_LEN]; /* SHA-256 of sender, subject, body */
};

/*
 * Parses len bytes of raw into out. Returns 0 (warnings, if any, in
 * out->warning), or PQ_ELIMIT / PQ_EINVAL when the message is past a bound
 * or has no header at all; then the reason is in pq_error_last() and out
 * still holds a msgid (the header's when it was read, else derived) and a
 * content_hash of the body, so the raw bytes can be stored as unparsable
 * and a re-delivery recognised. Release out with pq_mail_free() always.
 */
int pq_mail_parse(struct pq_mail *out, const char *raw, size_t len,
		  const struct pq_mail_limits *limits);
void pq_mail_free(struct pq_mail *m);

/*
 * Decodes one header value (unfolding, RFC 2047 words, charset) to UTF-8
 * into out, replacing what was there. Exposed for the executables' output
 * of raw headers and for tests.
 */
void pq_mail_decode_header(struct pq_buf *out, const char *value, size_t len);

/*
 * Parses an RFC 5322 date (two-digit years and impossible days handled as
 * for Date:) into unix time and zone offset in minutes. Returns 1 when it
 * is a usable date, 0 otherwise. Used for in-body Date: lines too.
 */
int pq_mail_parse_date(const char *s, int64_t *t, int *offset);

/*
 * Splits a decoded address into freshly allocated name and email as git
 * mailinfo does for From:. Quotes and their backslashes go, comments stay
 * ("Name (Comment)"; "a@b (Name)" gives "Name"), runs of white space fold
 * to one space, control characters become spaces, and a name that is
 * empty, longer than 60 bytes or holds '@', '<' or '>' is replaced by the
 * address. The address is the last <...> holding an '@', else the word
 * around the first '@', else a "<...>"; "" when there is none.
 */
void pq_mail_split_address(const char *addr, char **name, char **email);

/*
 * Removes what HTML mailers append to an address when they turn it into a
 * link: "a@b<mailto:a@b>" and "<a@b<mailto:a@b>>" lose "<mailto:a@b>".
 * Works in place on the C string s; returns how many were removed.
 */
size_t pq_mail_strip_mailto(char *s);

/*
 * The valid UTF-8 sequence at s (len > 0 bytes): its length (1 to 4) and
 * its code point into *cp, or 0 when it is invalid (overlong, a
 * surrogate, past U+10FFFF, cut short).
 */
size_t pq_utf8_decode(const unsigned char *s, size_t len, unsigned *cp);

/* Makes s (len bytes) valid UTF-8 into out: invalid sequences become
 * U+FFFD, NUL bytes too. Used wherever outside text enters. */
void pq_utf8_sanitize(struct pq_buf *out, const char *s, size_t len);

/* Whether s[0..len) is all ASCII without NUL bytes (a word at a time). */
int pq_mail_is_ascii(const char *s, size_t len);

#endif
