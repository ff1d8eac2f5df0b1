/*
 * fuzz_elsewhere: arbitrary bytes as the body of a reply from another
 * tree's maintainer, through pq_elsewhere_parse, without a configuration
 * and with one whose queues and branches are ours. What elsewhere.h
 * promises is checked: 1 with a tree, or 0 with none; the tree printable,
 * at most 200 bytes, never one of our queues or branches.
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
	free(body);
	return 0;
}
