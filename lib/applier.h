/*
 * applier: patches onto a branch with libgit2, in memory.
 *
 * Commits are built in memory on the branch's tip tree (no work tree, a
 * bare repository is fine); the branch moves only when every patch
 * applied, by compare-and-swap on the old tip, so a failed or concurrent
 * apply leaves it untouched. Where libgit2 (1.5) refuses a patch that git
 * accepts (a hunk whose lines moved: libgit2 never looks for an offset; a
 * diff without the "diff --git" header; an empty file created or deleted),
 * `git apply --cached` against a temporary index of the same repository
 * takes over (run with LC_ALL=C, so its words can be read, and killed
 * after 2 minutes: the patch then does not apply), and the result records
 * which path applied it. Where libgit2 would apply a patch otherwise than
 * git (modes, file types, paths beneath symbolic links, submodules, binary
 * patches), git's checks run first and the patch goes to git, or is
 * refused with git's reason: the tree made is always the one `git am` makes
 * (tests/unit/test_fidelity.c). With three_way, a patch neither applies
 * goes through `git apply --cached --3way` (git am -3's merge): when its
 * index lines name blobs the repository has, the change is merged into
 * the file as it is now; a conflict is a failure naming the files.
 */
#ifndef PQ_APPLIER_H
#define PQ_APPLIER_H

#include <stddef.h>
#include <stdint.h>

#include "repo.h"

struct pq_applier_patch {
	const char *msgid;
	const char *author_name;
	const char *author_email;
	int64_t author_time;	/* unix time */
	int author_offset;	/* minutes east of UTC */
	int64_t committer_time; /* chosen by the caller's date policy */
	int committer_offset;
	const char *message; /* the whole commit message, ending in "\n" */
	const char *diff;    /* the patch as git diff text */
	size_t diff_len;
};

enum pq_applier_path {
	PQ_APPLIER_LIBGIT2 = 1,
	PQ_APPLIER_GIT = 2,	 /* git apply --cached fallback */
	PQ_APPLIER_THREEWAY = 3, /* git apply --cached --3way: merged as git am -3 does */
};

struct pq_applier_result {
	char commit[41];	   /* hex id of the commit made, "" when not applied */
	enum pq_applier_path path; /* which applied it; 0 when commit is "" */
	char *error;		   /* why it did not apply, or NULL: "FILE, hunk @@ -A,B +C,D @@:
				      REASON" in plain words (diagnose.h), else git's */
	char merge[41];		   /* the last patch's, with merge_onto: the merge commit */
};

struct pq_applier_opts {
	const char *committer_name;
	const char *committer_email;
	int git_fallback;  /* allow git apply --cached */
	int three_way;	   /* with git_fallback: where neither applies the patch, merge it
			     with the blobs its index lines name, as git am -3 does */
	const char *where; /* names the tree patched in failure reasons; NULL: the branch */
	int dry_run;	   /* build the commits, move nothing */
	int keep_objects;  /* with dry_run: write the commits all the same (for a caller
			     that chains series and moves the branch itself) */
	/*
	 * Applying on a series' base-commit: the patches go on base, and the
	 * branch gets a merge commit (message merge_message, committer and
	 * date those of the last patch) of merge_onto (a commit, the tip the
	 * caller read) and the last patch. NULL: no merge.
	 */
	const char *merge_onto;
	const char *merge_message;
};

/*
 * Applies patches[0..n) in order on top of base (a commit id in hex, or a
 * ref name; NULL: the tip of branch) and, unless dry_run, moves branch
 * from its tip at the start (created when missing) to the last commit
 * (with n == 0, to base). results[i] tells what became of patch i (the
 * caller frees each error with free()); the same inputs always give the
 * same commit ids. Returns 0 when all applied (and the branch moved),
 * PQ_EGIT when a patch did not apply (then results say which and why: the
 * patches before it keep the ids of commits made but not on the branch,
 * those after it have commit "" and error NULL; the branch is untouched),
 * PQ_EEXISTS when the branch moved, appeared or was locked under us (left
 * as it is; a lock that stays for two seconds is taken for one a killed
 * writer left, and removed), PQ_ENOTFOUND when base does not resolve or branch is missing
 * and base NULL, PQ_EINVAL for a bad branch name or argument. The objects made are held in memory
 * (those the git fallback makes too: git runs in a quarantine of its own,
 * reading the repository as an alternate) and written as one pack before
 * the branch moves; a dry run and a failed apply write nothing at all, so
 * their commit ids may name objects that do not exist; keep_objects has a
 * dry run write them.
 * With merge_onto, PQ_EGIT also when the merge conflicts (results then
 * hold no error: pq_error_last() names the file).
 */
int pq_applier_run(struct pq_repo *repo, const char *branch, const char *base,
		   const struct pq_applier_patch *patches, size_t n,
		   const struct pq_applier_opts *opts, struct pq_applier_result *results);

#endif
