/*
 * test_elsewhere: what a reply must say for a series to count as taken by
 * another tree, and what it must not (quoted text, our own queues, words
 * that only start like "applied"), on reply texts as maintainers write
 * them, b4's "ty" among them.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "elsewhere.h"

/* The tree the reply body names (dflt for a bare "Applied"), or NULL. */
static char *parsed(const char *body, const struct pq_config *c)
{
	char *tree = (char *)1;
	int rc = pq_elsewhere_parse(body, "kbuild-default", c, &tree);

	CHECK(rc ? tree != NULL : tree == NULL);
	return rc ? tree : NULL;
}

#define EXPECT(body, want)                      \
	do {                                    \
		char *t_ = parsed(body, &conf); \
		CHECK_STR(t_, want);            \
		free(t_);                       \
	} while (0)

int main(void)
{
	struct pq_queue_conf queues[] = {
		{ .name = "rust-next", .branch = "rust-next" },
		{ .name = "fixes", .branch = "rust-fixes" },
	};
	struct pq_config conf = { .queues = queues, .nqueues = 2 };
	struct pq_buf big = PQ_BUF_INIT;
	int i;

	EXPECT("Applied to linux-kbuild\n", "linux-kbuild");
	EXPECT("Applied to kbuild-next, thanks!\n", "kbuild-next");
	EXPECT("applied to `kbuild-fixes` -- thanks everyone!\n", "kbuild-fixes");
	EXPECT("Applied into the kbuild tree.\n", "kbuild");
	EXPECT("  Applied to linux-kbuild.\r\n", "linux-kbuild");
	/* b4 ty: the attribution, the quote, a bare "Applied", the commits */
	EXPECT("On Tue, 01 Oct 2026 10:00:00 +0000, Alice wrote:\n"
	       "> Applied to rust-next? No: this is a quote.\n"
	       "> \n\n"
	       "Applied, thanks!\n\n"
	       "[1/2] kbuild: fix the thing\n"
	       "      commit: 0123456789ab\n\n"
	       "Best regards,\n-- \nMasahiro Yamada <masahiroy@kernel.org>\n",
	       "kbuild-default");
	/* a bare "Applied" followed by the tree on a line of its own */
	EXPECT("Applied, thanks!\n\n"
	       "Applied to https://git.kernel.org/pub/scm/linux/kernel/git/masahiroy/"
	       "linux-kbuild.git (kbuild)\n",
	       "linux-kbuild (kbuild)");
	EXPECT("Applied to git://git.kernel.org/pub/scm/foo/bar.git/\n", "bar");
	EXPECT("Applied.\n", "kbuild-default");

	/* quoted only: the words are someone else's */
	EXPECT("On Mon, Bob wrote:\n> Applied to linux-kbuild, thanks!\n\nThanks Bob.\n", NULL);
	EXPECT(">> Applied to linux-kbuild\n", NULL);
	/* our own trees are not "elsewhere" */
	EXPECT("Applied to rust-next, thanks everyone!\n", NULL);
	EXPECT("Applied to Rust-Next, thanks!\n", NULL); /* ours, in any case */
	EXPECT("Applied to `rust-fixes`\n", NULL);
	/* not a statement that it was applied */
	EXPECT("Applies cleanly on linux-kbuild.\n", NULL);
	EXPECT("Applied the first patch only; the rest needs work.\n", NULL);
	EXPECT("I have not applied this to linux-kbuild.\n", NULL);
	EXPECT("Not applied: please rebase.\n", NULL);
	EXPECT("Applied on top of next-20261110 and tested: works.\n", NULL);
	EXPECT("", NULL);
	CHECK(parsed(NULL, &conf) == NULL);
	/* after the signature */
	EXPECT("Looks good.\n-- \nApplied to linux-kbuild\n", NULL);
	/* only the first lines of the reply's own text */
	for (i = 0; i < 60; i++)
		pq_buf_addf(&big, "line %d of a long review\n", i);
	pq_buf_adds(&big, "Applied to linux-kbuild\n");
	EXPECT(pq_buf_str(&big), NULL);
	/* a long tree name is cut, and what no tree holds ends it */
	pq_buf_reset(&big);
	pq_buf_adds(&big, "Applied to ");
	for (i = 0; i < 500; i++)
		pq_buf_addc(&big, 'k');
	pq_buf_adds(&big, "\x1b[31m\n");
	{
		char *t = parsed(pq_buf_str(&big), &conf);

		CHECK(t && strlen(t) <= 200 && !strchr(t, '\x1b'));
		free(t);
	}
	pq_buf_free(&big);
	CHECK_DONE();
}
