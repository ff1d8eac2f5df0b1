/*
 * fuzz_diagnose: arbitrary bytes as a patch explained against a small
 * tree (a text file, a file in a directory, a symbolic link), through
 * pq_diagnose. What diagnose.h promises is checked: 0 or 1, never an
 * error on a readable repository; a reason when 1, none when 0; nothing
 * it says holds a control character (it goes into mail).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "fuzz.h"
#include "buf.h"
#include "diagnose.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

static git_repository *repo;
static git_tree *tree;

/* Adds a blob of text at path (mode) to the tree builder bld. */
static void put(git_treebuilder *bld, const char *path, const char *text, git_filemode_t mode)
{
	git_oid id;

	NEED(git_blob_create_from_buffer(&id, repo, text, strlen(text)) == 0);
	NEED(git_treebuilder_insert(NULL, bld, path, &id, mode) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[] = "/tmp/pq-fuzz-diagnose-XXXXXX";
	struct pq_buf lines = PQ_BUF_INIT;
	git_treebuilder *top, *sub;
	git_oid sub_id, top_id;
	int i;

	(void)argc;
	(void)argv;
	NEED(mkdtemp(dir) != NULL);
	git_libgit2_init();
	NEED(git_repository_init(&repo, dir, 1) == 0);
	for (i = 1; i <= 50; i++)
		pq_buf_addf(&lines, "%d\n", i);
	NEED(git_treebuilder_new(&sub, repo, NULL) == 0);
	put(sub, "c.rs", "fn main() {\n    println!(\"hi\");\n}\n", GIT_FILEMODE_BLOB);
	NEED(git_treebuilder_write(&sub_id, sub) == 0);
	NEED(git_treebuilder_new(&top, repo, NULL) == 0);
	put(top, "a.txt", lines.ptr, GIT_FILEMODE_BLOB);
	put(top, "empty", "", GIT_FILEMODE_BLOB);
	put(top, "link", "a.txt", GIT_FILEMODE_LINK);
	NEED(git_treebuilder_insert(NULL, top, "sub", &sub_id, GIT_FILEMODE_TREE) == 0);
	NEED(git_treebuilder_write(&top_id, top) == 0);
	NEED(git_tree_lookup(&tree, repo, &top_id) == 0);
	git_treebuilder_free(sub);
	git_treebuilder_free(top);
	pq_buf_free(&lines);
	return 0;
}

static int has_control(const struct pq_buf *b)
{
	size_t i;

	for (i = 0; i < b->len; i++)
		if ((unsigned char)b->ptr[i] < 0x20 || b->ptr[i] == 0x7f)
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pq_diagnosis d = PQ_DIAGNOSIS_INIT;
	int rc = pq_diagnose(repo, tree, (const char *)data, size, "rust-next", &d);

	NEED(rc == 0 || rc == 1);
	NEED(rc == 1 ? d.why.len > 0 : d.why.len == 0 && d.file.len == 0 && d.hunk.len == 0);
	NEED(!has_control(&d.file) && !has_control(&d.hunk) && !has_control(&d.why));
	pq_diagnosis_free(&d);
	return 0;
}
