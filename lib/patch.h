/*
 * patch: the body of a patch mail split into what git needs.
 *
 * Input is the decoded UTF-8 text of a message (mail.c has already undone
 * MIME, transfer encodings and charsets). Output is the commit message, the
 * diff, the in-body From:/Subject:/Date: overrides, the files touched, the
 * trailers of the commit message, and, for `git request-pull` mail, the
 * repository URL and branch.
 */
#ifndef PQ_PATCH_H
#define PQ_PATCH_H

#include <stddef.h>

#include "buf.h"
#include "trailers.h"

struct pq_patch {
	struct pq_buf message;  /* commit message body: in-body headers and
				   everything from the "---" line or the diff
				   removed; no trailing blank lines */
	struct pq_buf notes;    /* text between "---" and the diff (diffstat,
				   changelog), not part of the commit */
	struct pq_buf diff;     /* from the first diff line ("diff --git",
				   "Index:", "--- a/") to its end, signature
				   and list footers removed; empty when none */
	char *from;             /* in-body "From:" value, or NULL */
	char *subject;          /* in-body "Subject:" value, or NULL */
	char *date;             /* in-body "Date:" value, or NULL */
	char **files;           /* paths touched by the diff, in order, unique */
	size_t nfiles;
	struct pq_trailers trailers; /* of the commit message */
	char *pull_url;         /* request-pull repository URL, or NULL */
	char *pull_branch;      /* branch or tag after the URL, or NULL */
	char *base_commit;      /* "base-commit: <sha>" (b4, format-patch --base) */
	char *change_id;        /* "change-id: <id>" (b4) */
};

/*
 * Splits body (len bytes of UTF-8 text) into out. Content never makes it
 * fail: a body without a diff gives an empty diff. Returns 0. The caller
 * releases out with pq_patch_free() (also after a failure).
 */
int pq_patch_parse(struct pq_patch *out, const char *body, size_t len);
void pq_patch_free(struct pq_patch *p);

#endif
