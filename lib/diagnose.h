/*
 * diagnose: why a patch does not apply, in words a maintainer can act on.
 *
 * When a patch fails, libgit2 and git each say why in their own terms
 * ("the path 'rust' does not exist in the given tree", "patch failed:
 * FILE:LINE"), and neither is fit for a public list. This reads the
 * patch's own text against the tree it was to go on, file by file and
 * hunk by hunk in order, as git apply does (a hunk may sit at an offset;
 * the hunks before it change the file it is matched against), and names
 * the first thing that does not fit: the file, the hunk as the patch
 * writes it ("@@ -265,7 +265,8 @@"), and the reason in plain words. The
 * applier (applier.c) uses it for the error it reports; it never decides
 * whether a patch applies.
 */
#ifndef PQ_DIAGNOSE_H
#define PQ_DIAGNOSE_H

#include <stddef.h>

#include <git2.h>

#include "buf.h"

struct pq_diagnosis {
	struct pq_buf file; /* the path as the patch names it; empty when none */
	struct pq_buf hunk; /* "@@ -A,B +C,D @@" as written; empty when the file is at fault */
	struct pq_buf why;  /* plain words, no libgit2 or git internals */
};

#define PQ_DIAGNOSIS_INIT                             \
	{                                             \
		PQ_BUF_INIT, PQ_BUF_INIT, PQ_BUF_INIT \
	}

/*
 * Reads diff[0..len) against tree (of repo); where names the tree in the
 * reason ("rust-next": "rust/kernel/foo.rs does not exist on rust-next").
 * Returns 1 with *d filled when a file or hunk does not fit, 0 when all of
 * them fit as far as this reading goes (binary patches and modes are not
 * judged: the caller keeps git's reason), or a negative PQ_E* code when
 * the repository cannot be read. d is reset first; the caller frees it
 * with pq_diagnosis_free().
 */
int pq_diagnose(git_repository *repo, git_tree *tree, const char *diff, size_t len,
		const char *where, struct pq_diagnosis *d);

void pq_diagnosis_free(struct pq_diagnosis *d);

#endif
