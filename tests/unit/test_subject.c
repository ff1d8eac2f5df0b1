/*
 * test_subject: the subject prefix parser on the shapes kernel lists send,
 * and on input that is not a prefix at all.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "error.h"
#include "subject.h"

/* Parses subject into *s and checks it succeeded. */
static void parse(struct pq_subject *s, const char *subject)
{
	CHECK_INT(pq_subject_parse(s, subject), 0);
	CHECK(s->name != NULL);
}

static void check_tags(const struct pq_subject *s, size_t n, const char *const *want)
{
	size_t i;

	CHECK_INT(s->ntags, n);
	for (i = 0; i < n && i < s->ntags; i++)
		CHECK_STR(s->tags[i], want[i]);
}

static void test_plain_subject_keeps_name_and_defaults(void)
{
	struct pq_subject s;

	parse(&s, "kbuild: fix the thing");
	CHECK_STR(s.name, "kbuild: fix the thing");
	CHECK_INT(s.is_reply, 0);
	CHECK_INT(s.is_patch, 0);
	CHECK_INT(s.is_rfc, 0);
	CHECK_INT(s.is_resend, 0);
	CHECK_INT(s.is_pull, 0);
	CHECK_INT(s.version, 1);
	CHECK_INT(s.version_explicit, 0);
	CHECK_INT(s.index, -1);
	CHECK_INT(s.total, -1);
	CHECK_INT(s.ntags, 0);
	pq_subject_free(&s);
}

static void test_simple_patch(void)
{
	struct pq_subject s;

	parse(&s, "[PATCH] mm: fix a leak");
	CHECK_STR(s.name, "mm: fix a leak");
	CHECK_INT(s.is_patch, 1);
	CHECK_INT(s.version, 1);
	CHECK_INT(s.version_explicit, 0);
	CHECK_INT(s.index, -1);
	CHECK_INT(s.total, -1);
	CHECK_INT(s.ntags, 0);
	pq_subject_free(&s);
}

static void test_patch_token_any_case(void)
{
	const char *subjects[] = { "[Patch] x", "[patch] x", "[pAtCh] x" };
	struct pq_subject s;
	size_t i;

	for (i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
		parse(&s, subjects[i]);
		CHECK_INT(s.is_patch, 1);
		CHECK_STR(s.name, "x");
		CHECK_INT(s.ntags, 0);
		pq_subject_free(&s);
	}
}

static void test_rfc_version_tag_and_counter(void)
{
	static const char *const tags[] = { "rust-next" };
	struct pq_subject s;

	parse(&s, "[RFC PATCH v3 rust-next 02/10] rust: foo");
	CHECK_STR(s.name, "rust: foo");
	CHECK_INT(s.is_rfc, 1);
	CHECK_INT(s.is_patch, 1);
	CHECK_INT(s.version, 3);
	CHECK_INT(s.version_explicit, 1);
	CHECK_INT(s.index, 2);
	CHECK_INT(s.total, 10);
	check_tags(&s, 1, tags);
	pq_subject_free(&s);
}

static void test_tree_tag_and_cover_letter_counter(void)
{
	static const char *const tags[] = { "net-next" };
	struct pq_subject s;

	parse(&s, "[PATCH net-next v3 0/4] net: dsa: Multi-CPU ground work (v3)");
	CHECK_STR(s.name, "net: dsa: Multi-CPU ground work (v3)");
	CHECK_INT(s.is_patch, 1);
	CHECK_INT(s.version, 3);
	CHECK_INT(s.index, 0);
	CHECK_INT(s.total, 4);
	check_tags(&s, 1, tags);
	pq_subject_free(&s);
}

static void test_dash_next_is_a_tag(void)
{
	static const char *const tags[] = { "-next" };
	struct pq_subject s;

	parse(&s, "[PATCH -next] bpf: Use the right helper");
	CHECK_STR(s.name, "bpf: Use the right helper");
	CHECK_INT(s.is_patch, 1);
	check_tags(&s, 1, tags);
	CHECK(pq_subject_has_tag(&s, "-next"));
	pq_subject_free(&s);
}

static void test_tags_are_lower_cased_in_order(void)
{
	static const char *const tags[] = { "bpf-next", "net", "foo_bar" };
	struct pq_subject s;

	parse(&s, "[PATCH BPF-Next NET 1/2 Foo_Bar] x");
	check_tags(&s, 3, tags);
	CHECK_INT(s.index, 1);
	CHECK_INT(s.total, 2);
	pq_subject_free(&s);
}

static void test_commas_separate_tokens(void)
{
	static const char *const tags[] = { "net" };
	struct pq_subject s;

	parse(&s, "[net,v2,1/2] tcp: fix");
	CHECK_STR(s.name, "tcp: fix");
	CHECK_INT(s.version, 2);
	CHECK_INT(s.index, 1);
	CHECK_INT(s.total, 2);
	check_tags(&s, 1, tags);
	pq_subject_free(&s);

	parse(&s, "[PATCH, v4 ,3/5] x");
	CHECK_INT(s.is_patch, 1);
	CHECK_INT(s.version, 4);
	CHECK_INT(s.index, 3);
	CHECK_INT(s.total, 5);
	CHECK_INT(s.ntags, 0);
	pq_subject_free(&s);
}

static void test_version_forms(void)
{
	struct pq_subject s;

	parse(&s, "[PATCH V3] x");
	CHECK_INT(s.version, 3);
	CHECK_INT(s.version_explicit, 1);
	CHECK_INT(s.ntags, 0);
	pq_subject_free(&s);

	parse(&s, "[PATCH v10 7/12] x");
	CHECK_INT(s.version, 10);
	CHECK_INT(s.index, 7);
	CHECK_INT(s.total, 12);
	pq_subject_free(&s);

	parse(&s, "[PATCH v 2] x");
	CHECK_INT(s.version, 2);
	CHECK_INT(s.version_explicit, 1);
	CHECK_INT(s.ntags, 0);
	pq_subject_free(&s);

	parse(&s, "[PATCHv5 2/3] x");
	CHECK_INT(s.is_patch, 1);
	CHECK_INT(s.version, 5);
	CHECK_INT(s.index, 2);
	CHECK_INT(s.ntags, 0);
	pq_subject_free(&s);

	parse(&s, "[RFCv2] x");
	CHECK_INT(s.is_rfc, 1);
	CHECK_INT(s.version, 2);
	CHECK_INT(s.ntags, 0);
	pq_subject_free(&s);
}

static void test_non_versions_are_tags(void)
{
	static const char *const tags[] = { "v", "vx", "v2.1", "5.10", "patches" };
	struct pq_subject s;

	parse(&s, "[PATCH v vx v2.1 5.10 patches] x");
	CHECK_INT(s.version, 1);
	CHECK_INT(s.version_explicit, 0);
	check_tags(&s, 5, tags);
	pq_subject_free(&s);
}

static void test_huge_numbers_are_tags_not_overflow(void)
{
	static const char *const tags[] = { "v99999999999", "1/99999999999" };
	struct pq_subject s;

	parse(&s, "[PATCH v99999999999 1/99999999999] x");
	CHECK_INT(s.version, 1);
	CHECK_INT(s.index, -1);
	CHECK_INT(s.total, -1);
	check_tags(&s, 2, tags);
	pq_subject_free(&s);
}

static void test_counter_leading_zeros_and_extra_patch(void)
{
	struct pq_subject s;

	parse(&s, "[PATCH 02/10] x");
	CHECK_INT(s.index, 2);
	CHECK_INT(s.total, 10);
	pq_subject_free(&s);

	parse(&s, "[PATCH 0/2] x");
	CHECK_INT(s.index, 0);
	CHECK_INT(s.total, 2);
	pq_subject_free(&s);

	parse(&s, "[PATCH 3/2] x");
	CHECK_INT(s.index, 3);
	CHECK_INT(s.total, 2);
	pq_subject_free(&s);

	parse(&s, "[PATCH 001/123] x");
	CHECK_INT(s.index, 1);
	CHECK_INT(s.total, 123);
	pq_subject_free(&s);
}

static void test_malformed_counters_are_tags(void)
{
	static const char *const tags[] = { "1/", "/2", "a/b", "1/2/3" };
	struct pq_subject s;

	parse(&s, "[PATCH 1/ /2 a/b 1/2/3] x");
	CHECK_INT(s.index, -1);
	CHECK_INT(s.total, -1);
	check_tags(&s, 4, tags);
	pq_subject_free(&s);
}

static void test_mercurial_n_of_m(void)
{
	struct pq_subject s;

	parse(&s, "[PATCH 0 of 2] Sample Mercurial patches");
	CHECK_STR(s.name, "Sample Mercurial patches");
	CHECK_INT(s.is_patch, 1);
	CHECK_INT(s.index, 0);
	CHECK_INT(s.total, 2);
	CHECK_INT(s.ntags, 0);
	pq_subject_free(&s);

	parse(&s, "[PATCH 1 of 2] hg: one");
	CHECK_STR(s.name, "hg: one");
	CHECK_INT(s.index, 1);
	CHECK_INT(s.total, 2);
	CHECK_INT(s.ntags, 0);
	pq_subject_free(&s);
}

static void test_of_outside_a_counter_is_a_tag(void)
{
	static const char *const tags[] = { "1", "of" };
	struct pq_subject s;

	parse(&s, "[PATCH 1 of] x");
	CHECK_INT(s.index, -1);
	check_tags(&s, 2, tags);
	pq_subject_free(&s);
}

static void test_resend(void)
{
	struct pq_subject s;

	parse(&s, "[PATCH RESEND v2 3/7] x");
	CHECK_STR(s.name, "x");
	CHECK_INT(s.is_patch, 1);
	CHECK_INT(s.is_resend, 1);
	CHECK_INT(s.version, 2);
	CHECK_INT(s.index, 3);
	CHECK_INT(s.total, 7);
	CHECK_INT(s.ntags, 0);
	pq_subject_free(&s);

	parse(&s, "[RESEND PATCH] y");
	CHECK_INT(s.is_resend, 1);
	CHECK_INT(s.is_patch, 1);
	CHECK_STR(s.name, "y");
	pq_subject_free(&s);
}

static void test_git_pull_forms(void)
{
	struct pq_subject s;

	parse(&s, "[GIT PULL] Kbuild fixes for v6.19-rc4");
	CHECK_STR(s.name, "Kbuild fixes for v6.19-rc4");
	CHECK_INT(s.is_pull, 1);
	CHECK_INT(s.is_patch, 0);
	CHECK_INT(s.version, 1);
	CHECK_INT(s.version_explicit, 0);
	CHECK_INT(s.ntags, 0);
	pq_subject_free(&s);

	parse(&s, "[git pull] Please pull powerpc.git next branch");
	CHECK_STR(s.name, "Please pull powerpc.git next branch");
	CHECK_INT(s.is_pull, 1);
	CHECK_INT(s.ntags, 0);
	pq_subject_free(&s);

	parse(&s, "[GIT] Networking");
	CHECK_STR(s.name, "Networking");
	CHECK_INT(s.is_pull, 1);
	CHECK_INT(s.ntags, 0);
	pq_subject_free(&s);

	parse(&s, "[GIT PULL v2] drm fixes");
	CHECK_INT(s.is_pull, 1);
	CHECK_INT(s.version, 2);
	CHECK_INT(s.version_explicit, 1);
	CHECK_INT(s.ntags, 0);
	pq_subject_free(&s);

	parse(&s, "[PULL] drm-misc-fixes");
	CHECK_INT(s.is_pull, 1);
	CHECK_STR(s.name, "drm-misc-fixes");
	pq_subject_free(&s);

	parse(&s, "[GIT PULL REQUEST] x");
	CHECK_INT(s.is_pull, 1);
	CHECK_INT(s.ntags, 0);
	pq_subject_free(&s);
}

static void test_git_beside_patch_is_a_tag_not_a_pull(void)
{
	static const char *const tags[] = { "git" };
	struct pq_subject s;

	parse(&s, "[GIT PATCH] x");
	CHECK_INT(s.is_pull, 0);
	CHECK_INT(s.is_patch, 1);
	check_tags(&s, 1, tags);
	pq_subject_free(&s);
}

static void test_pull_words_in_name_are_not_a_pull(void)
{
	struct pq_subject s;

	parse(&s, "git pull: something");
	CHECK_INT(s.is_pull, 0);
	CHECK_STR(s.name, "git pull: something");
	pq_subject_free(&s);
}

static void test_reply_markers(void)
{
	const char *subjects[] = {
		"Re: x",	  "RE: x",     "re: x",	 "Re: Re: x", "Re:x",
		"Re:Re:RE: x",	  "Aw: x",     "AW: x",	 "Sv: x",     "SV: x",
		"Antw: x",	  "Fwd: x",    "FWD: x", "Fw: x",     "Re[2]: x",
		"Re: Fwd: Aw: x", "  Re:   x", "Re : x", "Re(3): x",
	};
	struct pq_subject s;
	size_t i;

	for (i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
		parse(&s, subjects[i]);
		if (s.is_reply != 1 || strcmp(s.name, "x") != 0)
			fprintf(stderr, "reply marker not removed from \"%s\"\n", subjects[i]);
		CHECK_INT(s.is_reply, 1);
		CHECK_STR(s.name, "x");
		pq_subject_free(&s);
	}
}

static void test_reply_marker_from_chinese_clients(void)
{
	struct pq_subject s;

	/* "回复: " and "答复：" (full-width colon) */
	parse(&s, "\xe5\x9b\x9e\xe5\xa4\x8d: [PATCH v2] x");
	CHECK_INT(s.is_reply, 1);
	CHECK_INT(s.version, 2);
	CHECK_STR(s.name, "x");
	pq_subject_free(&s);

	parse(&s, "\xe7\xad\x94\xe5\xa4\x8d\xef\xbc\x9a [PATCH] y");
	CHECK_INT(s.is_reply, 1);
	CHECK_INT(s.is_patch, 1);
	CHECK_STR(s.name, "y");
	pq_subject_free(&s);
}

static void test_words_that_start_like_markers_are_not_replies(void)
{
	const char *subjects[] = {
		"Reply: x", "Revert: x", "Refs: x", "Re",      "Re x",
		"Fwdx: x",  "Re[]: x",	 "Re[2: x", "Swap: x",
	};
	struct pq_subject s;
	size_t i;

	for (i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
		parse(&s, subjects[i]);
		CHECK_INT(s.is_reply, 0);
		CHECK_STR(s.name, subjects[i]);
		pq_subject_free(&s);
	}
}

static void test_reply_then_patch_prefix(void)
{
	struct pq_subject s;

	parse(&s, "Re: [PATCH v5 1/2] kbuild: x");
	CHECK_INT(s.is_reply, 1);
	CHECK_INT(s.is_patch, 1);
	CHECK_INT(s.version, 5);
	CHECK_INT(s.index, 1);
	CHECK_INT(s.total, 2);
	CHECK_STR(s.name, "kbuild: x");
	pq_subject_free(&s);

	parse(&s, "Re: [PATCH v2 2/3] x");
	CHECK_INT(s.is_reply, 1);
	CHECK_INT(s.version, 2);
	CHECK_INT(s.index, 2);
	CHECK_INT(s.total, 3);
	CHECK_STR(s.name, "x");
	pq_subject_free(&s);
}

static void test_list_tag_before_patch_prefix(void)
{
	static const char *const br[] = { "buildroot" };
	static const char *const dpdk[] = { "dpdk-dev" };
	static const char *const snow[] = { "snowpatch" };
	struct pq_subject s;

	parse(&s, "[Buildroot] [PATCH 01/11] package/foo: bump to 1.2");
	CHECK_INT(s.is_patch, 1);
	CHECK_INT(s.index, 1);
	CHECK_INT(s.total, 11);
	CHECK_STR(s.name, "package/foo: bump to 1.2");
	check_tags(&s, 1, br);
	pq_subject_free(&s);

	parse(&s, "[dpdk-dev] [PATCH] kni: fix build");
	CHECK_INT(s.is_patch, 1);
	CHECK_STR(s.name, "kni: fix build");
	check_tags(&s, 1, dpdk);
	pq_subject_free(&s);

	parse(&s, "[snowpatch] [PATCH 1/3] x");
	CHECK_INT(s.is_patch, 1);
	CHECK_INT(s.index, 1);
	CHECK_INT(s.total, 3);
	check_tags(&s, 1, snow);
	pq_subject_free(&s);
}

static void test_reply_between_list_tag_and_patch_prefix(void)
{
	static const char *const dpdk[] = { "dpdk-dev" };
	struct pq_subject s;

	parse(&s, "[dpdk-dev] Re: [PATCH v3] kni: fix build");
	CHECK_INT(s.is_reply, 1);
	CHECK_INT(s.is_patch, 1);
	CHECK_INT(s.version, 3);
	CHECK_STR(s.name, "kni: fix build");
	check_tags(&s, 1, dpdk);
	pq_subject_free(&s);
}

static void test_reply_after_prefix_stays_in_name(void)
{
	struct pq_subject s;

	parse(&s, "[PATCH] Re: foo");
	CHECK_INT(s.is_patch, 1);
	CHECK_INT(s.is_reply, 0);
	CHECK_STR(s.name, "Re: foo");
	pq_subject_free(&s);
}

static void test_many_bracket_groups(void)
{
	static const char *const tags[] = { "a", "b", "c", "media" };
	struct pq_subject s;

	parse(&s, "[a] [b][c] [PATCH] [media] [v2] [1/4] x [not] y");
	check_tags(&s, 4, tags);
	CHECK_INT(s.version, 2);
	CHECK_INT(s.index, 1);
	CHECK_INT(s.total, 4);
	CHECK_STR(s.name, "x [not] y");
	pq_subject_free(&s);
}

static void test_last_version_and_counter_win(void)
{
	struct pq_subject s;

	parse(&s, "[PATCH v2 1/3] [v4 2/5] x");
	CHECK_INT(s.version, 4);
	CHECK_INT(s.index, 2);
	CHECK_INT(s.total, 5);
	pq_subject_free(&s);
}

static void test_colon_after_bracket_is_dropped(void)
{
	struct pq_subject s;

	parse(&s, "[Patch 2/2]: powerpc/hotplug/mm: Fix hotplug memory");
	CHECK_INT(s.is_patch, 1);
	CHECK_INT(s.index, 2);
	CHECK_INT(s.total, 2);
	CHECK_STR(s.name, "powerpc/hotplug/mm: Fix hotplug memory");
	pq_subject_free(&s);

	parse(&s, "[PATCH]:x");
	CHECK_STR(s.name, "x");
	pq_subject_free(&s);
}

static void test_brackets_not_at_start_are_name(void)
{
	struct pq_subject s;

	parse(&s, "foo [PATCH 1/2] bar");
	CHECK_STR(s.name, "foo [PATCH 1/2] bar");
	CHECK_INT(s.is_patch, 0);
	CHECK_INT(s.index, -1);
	CHECK_INT(s.total, -1);
	CHECK_INT(s.ntags, 0);
	pq_subject_free(&s);
}

static void test_unclosed_bracket_stays_in_name(void)
{
	struct pq_subject s;

	parse(&s, "[PATCH v2 foo");
	CHECK_STR(s.name, "[PATCH v2 foo");
	CHECK_INT(s.is_patch, 0);
	CHECK_INT(s.version, 1);
	CHECK_INT(s.ntags, 0);
	pq_subject_free(&s);

	parse(&s, "[PATCH v2] [oops x");
	CHECK_INT(s.is_patch, 1);
	CHECK_INT(s.version, 2);
	CHECK_STR(s.name, "[oops x");
	pq_subject_free(&s);

	parse(&s, "[");
	CHECK_STR(s.name, "[");
	pq_subject_free(&s);

	parse(&s, "[PATCH] Re: [oops");
	CHECK_INT(s.is_reply, 0);
	CHECK_STR(s.name, "Re: [oops");
	pq_subject_free(&s);
}

static void test_empty_bracket_group(void)
{
	struct pq_subject s;

	parse(&s, "[] [ , ] x");
	CHECK_STR(s.name, "x");
	CHECK_INT(s.ntags, 0);
	pq_subject_free(&s);
}

static void test_whitespace_collapsed_and_trimmed(void)
{
	struct pq_subject s;

	parse(&s, "  [PATCH]\t mm:  fix\r\n\t the   leak \t\n");
	CHECK_STR(s.name, "mm: fix the leak");
	pq_subject_free(&s);

	parse(&s, "[PATCH\tv2\n 1/2]\tx");
	CHECK_INT(s.version, 2);
	CHECK_INT(s.index, 1);
	CHECK_STR(s.name, "x");
	pq_subject_free(&s);
}

static void test_empty_and_all_prefix_give_empty_name(void)
{
	const char *subjects[] = {
		"", "   ", "Re:", "Re: Re: ", "[PATCH]", "Re: [PATCH v2 1/2]  ", "[a][b]:"
	};
	struct pq_subject s;
	size_t i;

	for (i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
		parse(&s, subjects[i]);
		CHECK_STR(s.name, "");
		pq_subject_free(&s);
	}
}

static void test_null_arguments(void)
{
	struct pq_subject s;

	CHECK_INT(pq_subject_parse(&s, NULL), PQ_EINVAL);
	CHECK(s.name == NULL);
	CHECK_INT(s.ntags, 0);
	CHECK(strlen(pq_error_last()) > 0);
	pq_subject_free(&s);
	CHECK_INT(pq_subject_parse(NULL, "x"), PQ_EINVAL);
	pq_subject_free(NULL);
	CHECK_INT(pq_subject_has_tag(NULL, "x"), 0);
}

static void test_has_tag_matches_whole_tokens_only(void)
{
	struct pq_subject s;

	parse(&s, "[PATCH rust-next drm-rust-fixes] x");
	CHECK_INT(pq_subject_has_tag(&s, "rust"), 0);
	CHECK_INT(pq_subject_has_tag(&s, "drm"), 0);
	CHECK_INT(pq_subject_has_tag(&s, "rust-nex"), 0);
	CHECK_INT(pq_subject_has_tag(&s, "rust-next"), 1);
	CHECK_INT(pq_subject_has_tag(&s, "RUST-Next"), 1);
	CHECK_INT(pq_subject_has_tag(&s, "drm-rust-fixes"), 1);
	CHECK_INT(pq_subject_has_tag(&s, ""), 0);
	CHECK_INT(pq_subject_has_tag(&s, NULL), 0);
	CHECK_INT(pq_subject_has_tag(&s, "patch"), 0);
	pq_subject_free(&s);

	parse(&s, "[PATCH rust] x");
	CHECK_INT(pq_subject_has_tag(&s, "rust"), 1);
	CHECK_INT(pq_subject_has_tag(&s, "Rust"), 1);
	pq_subject_free(&s);
}

static void test_keywords_never_become_tags(void)
{
	struct pq_subject s;

	parse(&s, "[RFC PATCH RESEND v4 1/2] [GIT PULL] x");
	CHECK_INT(s.ntags, 0);
	CHECK_INT(pq_subject_has_tag(&s, "rfc"), 0);
	CHECK_INT(pq_subject_has_tag(&s, "v4"), 0);
	CHECK_INT(pq_subject_has_tag(&s, "1/2"), 0);
	pq_subject_free(&s);
}

static void test_utf8_and_high_bytes_survive(void)
{
	static const char *const tags[] = { "\xc3\x9c"
					    "ber" };
	struct pq_subject s;

	parse(&s, "[PATCH \xc3\x9c"
		  "ber] caf\xc3\xa9: \xff\xfe x");
	check_tags(&s, 1, tags);
	CHECK_STR(s.name, "caf\xc3\xa9: \xff\xfe x");
	pq_subject_free(&s);
}

static void test_very_long_subject(void)
{
	struct pq_subject s;
	size_t n = 1 << 20, i;
	char *buf = malloc(n + 1);

	if (!buf)
		return;
	/* a million brackets that never close: must be linear, not quadratic */
	memset(buf, '[', n);
	buf[n] = '\0';
	parse(&s, buf);
	CHECK_INT(strlen(s.name), n);
	pq_subject_free(&s);

	/* a million reply markers */
	for (i = 0; i + 3 <= n; i += 3)
		memcpy(buf + i, "Re:", 3);
	buf[i] = '\0';
	parse(&s, buf);
	CHECK_INT(s.is_reply, 1);
	CHECK_STR(s.name, "");
	pq_subject_free(&s);

	/* many tiny groups, then a name */
	for (i = 0; i + 3 <= n; i += 3)
		memcpy(buf + i, "[a]", 3);
	memcpy(buf + i - 3, " x", 3);
	parse(&s, buf);
	CHECK_INT(s.ntags, i / 3 - 1);
	CHECK_STR(s.name, "x");
	pq_subject_free(&s);

	/* one group with many tokens */
	buf[0] = '[';
	for (i = 1; i + 2 < n; i += 2)
		memcpy(buf + i, "b,", 2);
	buf[i] = ']';
	buf[i + 1] = '\0';
	parse(&s, buf);
	CHECK_INT(s.ntags, (i - 1) / 2);
	CHECK_STR(s.name, "");
	pq_subject_free(&s);
	free(buf);
}

/* Every short string over a small alphabet of prefix pieces parses cleanly. */
static void test_exhaustive_short_inputs_do_not_crash(void)
{
	static const char alphabet[] = "[]Re: v1/,P\t0of";
	const size_t k = sizeof(alphabet) - 1;
	char buf[6];
	size_t len, code, total, i, c;
	struct pq_subject s;
	int bad = 0;

	for (len = 0; len <= 4; len++) {
		total = 1;
		for (i = 0; i < len; i++)
			total *= k;
		for (code = 0; code < total; code++) {
			c = code;
			for (i = 0; i < len; i++) {
				buf[i] = alphabet[c % k];
				c /= k;
			}
			buf[len] = '\0';
			if (pq_subject_parse(&s, buf) != 0 || !s.name || strlen(s.name) > len)
				bad++;
			pq_subject_free(&s);
		}
	}
	CHECK_INT(bad, 0);
}

static void test_free_resets_struct(void)
{
	struct pq_subject s;

	parse(&s, "[PATCH a b] x");
	pq_subject_free(&s);
	CHECK(s.name == NULL);
	CHECK(s.tags == NULL);
	CHECK_INT(s.ntags, 0);
	pq_subject_free(&s);
}

int main(void)
{
	test_plain_subject_keeps_name_and_defaults();
	test_simple_patch();
	test_patch_token_any_case();
	test_rfc_version_tag_and_counter();
	test_tree_tag_and_cover_letter_counter();
	test_dash_next_is_a_tag();
	test_tags_are_lower_cased_in_order();
	test_commas_separate_tokens();
	test_version_forms();
	test_non_versions_are_tags();
	test_huge_numbers_are_tags_not_overflow();
	test_counter_leading_zeros_and_extra_patch();
	test_malformed_counters_are_tags();
	test_mercurial_n_of_m();
	test_of_outside_a_counter_is_a_tag();
	test_resend();
	test_git_pull_forms();
	test_git_beside_patch_is_a_tag_not_a_pull();
	test_pull_words_in_name_are_not_a_pull();
	test_reply_markers();
	test_reply_marker_from_chinese_clients();
	test_words_that_start_like_markers_are_not_replies();
	test_reply_then_patch_prefix();
	test_list_tag_before_patch_prefix();
	test_reply_between_list_tag_and_patch_prefix();
	test_reply_after_prefix_stays_in_name();
	test_many_bracket_groups();
	test_last_version_and_counter_win();
	test_colon_after_bracket_is_dropped();
	test_brackets_not_at_start_are_name();
	test_unclosed_bracket_stays_in_name();
	test_empty_bracket_group();
	test_whitespace_collapsed_and_trimmed();
	test_empty_and_all_prefix_give_empty_name();
	test_null_arguments();
	test_has_tag_matches_whole_tokens_only();
	test_keywords_never_become_tags();
	test_utf8_and_high_bytes_survive();
	test_very_long_subject();
	test_exhaustive_short_inputs_do_not_crash();
	test_free_resets_struct();
	CHECK_DONE();
}
