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
#include "mail.h"
#include "trailers.h"

struct pq_patch {
	struct pq_buf message; /* commit message as git am would commit it:
				   in-body headers, text above a scissors line
				   or an attached patch file's From_ line, the
				   signature, list footer and everything from
				   the "---" line or the diff on removed;
				   trailing whitespace of each line, leading and
				   trailing blank lines and runs of blank lines
				   removed; no final newline; "" when empty */
	struct pq_buf notes;   /* text between "---" and the diff (diffstat,
				   changelog), not part of the commit; leading
				   blank lines and trailing whitespace removed */
	struct pq_buf diff;    /* from the first diff line ("diff -",
				   "Index: ", or "--- " followed by "+++ ") to
				   its end, bytes as sent; signature, list
				   footer, base-commit/change-id lines and
				   trailing blank lines removed (not the blank
				   line closing a binary patch); ends with a
				   newline; empty when none */
	char *from;	       /* in-body "From:" value, or NULL */
	char *subject;	       /* in-body "Subject:" value, folded lines
				   joined by one space, or NULL */
	char *date;	       /* in-body "Date:" value, or NULL */
	char **files;	       /* paths touched by the diff, in order of first
				   appearance, unique: the new side of
				   "diff --git", both sides of a rename or copy,
				   "Index:" names, else "+++"/"---" names less
				   their first component */
	size_t nfiles;
	size_t *lines;		     /* parallel to files: the lines the hunks of each add
				   or remove (binary patches count none) */
	struct pq_trailers trailers; /* of the commit message */
	char *pull_url;		     /* request-pull repository URL, or NULL */
	char *pull_branch;	     /* branch or tag after the URL, or NULL */
	char *base_commit;	     /* "base-commit: <sha>" (b4, format-patch --base),
				   or NULL */
	char *change_id;	     /* "change-id: <id>" (b4), or NULL */
	char *error;		     /* why the diff must not be applied (it had a NUL
				   byte, now U+FFFD), or NULL: set by
				   pq_patch_parse_mail() only */
};

/*
 * Splits body (len bytes of UTF-8 text, NUL bytes allowed; NULL with len 0
 * is an empty body) into out, which it overwrites. Content never makes it
 * fail: a body without a diff gives an empty diff. Returns 0. The caller
 * owns everything in out and releases it with pq_patch_free() (also after a
 * failure); freeing twice is harmless.
 */
int pq_patch_parse(struct pq_patch *out, const char *body, size_t len);
void pq_patch_free(struct pq_patch *p);

/*
 * pq_patch_parse() on the body of a parsed mail, which also knows where the
 * mail had NUL bytes (m->nul_at): a diff line that held one sets out->error
 * with the line, the file and why the patch is not applied. Returns 0.
 */
int pq_patch_parse_mail(struct pq_patch *out, const struct pq_mail *m);

/*
 * For mail whose subject says it is a pull request ("[GIT PULL]") but whose
 * text lacks request-pull's wording: takes the first indented repository
 * URL line (and the ref after it) as pull_url and pull_branch. Returns 1
 * when p has a pull URL afterwards, 0 otherwise.
 */
int pq_patch_find_pull(struct pq_patch *p, const char *body, size_t len);

#endif
