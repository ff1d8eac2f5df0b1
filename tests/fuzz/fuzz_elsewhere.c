/*
 * fuzz_elsewhere: the mail text routing reads, from arbitrary bytes: the
 * body of a reply from another tree's maintainer through
 * pq_elsewhere_parse (without a configuration, and with one whose queues
 * and branches are ours), a subject's subsystem prefix
 * (pq_rules_prefix) and a To/Cc value's stable@ address
 * (pq_rules_stable_address). What elsewhere.h and rules.h promise is
 * checked: 1 with a tree or 0 with none, the tree printable, at most 200
 * bytes and never one of ours; a prefix lower-case without blanks or a
 * colon; a stable address lower-case, "stable@" at kernel.org or under it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "config.h"
#include "elsewhere.h"
#include "rules.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct pq_config *config;

static const char conf[] = "[patchq]\n"
			   "\tdatabase = :memory:\n"
			   "\trepository = /nonexistent\n"
			   "\tcommitter = Fuzz <fuzz@example.org>\n"
			   "[queue \"rust-next\"]\n"
			   "\tbranch = rust-next\n"
			   "[queue \"rust-fixes\"]\n"
			   "\tbranch = fixes\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[64];
	int fd = memfd_create("fuzz-elsewhere-conf", 0);

	(void)argc;
	(void)argv;
	NEED(fd >= 0 && write(fd, conf, sizeof(conf) - 1) == (ssize_t)sizeof(conf) - 1);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	NEED(pq_config_load(&config, path) == 0);
	return 0;
}

static void check_tree(int rc, const char *tree, int ours_refused)
{
	const unsigned char *p;

	NEED(rc == 0 || rc == 1);
	NEED(rc ? tree != NULL : tree == NULL);
	if (!tree)
		return;
	NEED(strlen(tree) > 0 && strlen(tree) <= 200);
	for (p = (const unsigned char *)tree; *p; p++)
		NEED(*p >= 0x20 && *p != 0x7f);
	if (ours_refused)
		NEED(strcasecmp(tree, "rust-next") && strcasecmp(tree, "rust-fixes") &&
		     strcasecmp(tree, "fixes"));
}

static void check_prefix(const char *name)
{
	char *p = pq_rules_prefix(name);
	const char *c;

	for (c = p; c && *c; c++)
		NEED(*c != ' ' && *c != '\t' && *c != ':' && (*c < 'A' || *c > 'Z'));
	NEED(!p || *p);
	free(p);
}

static void check_stable(const char *list)
{
	char *a = pq_rules_stable_address(list);
	size_t n = a ? strlen(a) : 0;
	const char *c;

	for (c = a; c && *c; c++)
		NEED(*c < 'A' || *c > 'Z');
	NEED(!a || (!strncmp(a, "stable@", 7) && ((n >= 17 && !strcmp(a + n - 11, ".kernel.org")) ||
						  !strcmp(a, "stable@kernel.org"))));
	free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = malloc(size + 1), *tree;
	int rc;

	NEED(body != NULL);
	memcpy(body, data, size);
	body[size] = '\0';
	rc = pq_elsewhere_parse(body, "linux-kbuild", NULL, &tree);
	check_tree(rc, tree, 0);
	free(tree);
	rc = pq_elsewhere_parse(body, "linux-kbuild", config, &tree);
	check_tree(rc, tree, 1);
	free(tree);
	check_prefix(body);
	check_stable(body);
	free(body);
	return 0;
}
