/*
 * subject: the bracket prefix of a patch mail's subject.
 *
 * "Re: [RFC PATCH v3 rust-next 02/10] rust: foo" is split into what the
 * prefix says (reply, RFC, version 3, patch 2 of 10, tag "rust-next") and
 * the name "rust: foo". Used by ingest to classify mail and by series to
 * group it.
 */
#ifndef PQ_SUBJECT_H
#define PQ_SUBJECT_H

#include <stddef.h>

struct pq_subject {
	char *name;  /* subject without reply markers and bracket prefixes */
	char **tags; /* other prefix tokens, lower-cased, in order ("rust-next", "net") */
	size_t ntags;
	int is_reply;  /* began with Re:/Aw:/Sv:/Antw:/Fwd:/Fw:/Re[2]: (any case, repeated),
			  * also between a list tag and the patch prefix ("[x] Re: [PATCH]") */
	int is_patch;  /* a PATCH token was seen */
	int is_rfc;    /* an RFC token was seen */
	int is_resend; /* a RESEND token was seen */
	int is_pull;   /* "[GIT PULL]", "[GIT]", "[git pull]", "[PULL]" ("[GIT PATCH]" is not) */
	int version;   /* vN / VN / "v N" / "PATCHvN"; 1 when not given */
	int version_explicit; /* 1 when the prefix carried a version */
	int index;	      /* n of "n/N" or "n of N"; -1 when absent */
	int total;	      /* N of "n/N" or "n of N"; -1 when absent */
};

/*
 * Parses a decoded (UTF-8) subject. Never fails on content: an unparsable
 * prefix is left in the name, which is never NULL ("" when all prefix).
 * When groups disagree, the last version or counter wins. Returns 0, or
 * PQ_EINVAL when out or subject is NULL; a non-NULL out is then left zeroed,
 * so pq_subject_free() on it is harmless. The caller frees the result with
 * pq_subject_free(), which also accepts NULL.
 */
int pq_subject_parse(struct pq_subject *out, const char *subject);
void pq_subject_free(struct pq_subject *s);

/* 1 when the tag list holds tag as a whole token (case-insensitive). */
int pq_subject_has_tag(const struct pq_subject *s, const char *tag);

#endif
