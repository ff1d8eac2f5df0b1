/*
 * test_imapcode: the screen of IMAP response codes. What real servers send
 * (dovecot's greeting and SELECT answers, UIDPLUS and CONDSTORE codes)
 * passes; the shapes that crash libetpan 1.9's parser (a flag list never
 * closed, an empty CAPABILITY) and other malformed codes are refused; a
 * code not closed within what the caller kept is refused.
 */
#include <string.h>

#include "check.h"
#include "imapcode.h"

static const char *check(const char *line)
{
	return pq_imap_code_check(line, strlen(line));
}

int main(void)
{
	static const char *const good[] = {
		"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ "
		"AUTH=PLAIN] Dovecot (Debian) ready.",
		"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
		"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags "
		"permitted.",
		"* OK [PERMANENTFLAGS ()] Read-only mailbox.",
		"* OK [UIDVALIDITY 1733460000] UIDs valid",
		"* OK [UIDNEXT 4392] Predicted next UID",
		"* OK [HIGHESTMODSEQ 715194045007] Highest",
		"* OK [NOMODSEQ] No permanent modsequences",
		"2 OK [READ-ONLY] Examine completed (0.001 + 0.000 secs).",
		"a1 OK [APPENDUID 38505 3955] APPEND completed",
		"a2 OK [COPYUID 38505 304,319:320 3956:3958] Done",
		"a3 NO [BADCHARSET] charset",
		"* NO [ALERT] System shutdown in 10 minutes",
		"* OK [UNAVAILABLE] a code libetpan does not know",
		"* BYE [UNAVAILABLE Server shutting down] bye",
		"3 OK [CLOSED] Previous mailbox closed",
		"+ idling",
		"* 17 EXISTS",
		"* SEARCH 2 84 882",
		"* OK no code, [just text",
		"4 OK Logged in",
		"* ok [uidnext 7] lower case",
		"*\tOK [UIDNEXT 7] tab",
		"2 OK [ALERT] text",
	};
	static const char *const bad[] = {
		"5 OK [PERMANENTFLAGS (* BYE logging out",
		"* OK [PERMANENTFLAGS (\\Seen",
		"* OK [PERMANENTFLAGS \\Seen] no list",
		"* OK [PERMANENTFLAGS (\\Seen  \\Draft)] two spaces",
		"* OK [CAPABILITY] empty",
		"* OK [CAPABILITY IMAP4rev1 (x)] list",
		"* OK [UIDVALIDITY] no number",
		"* OK [UIDVALIDITY x9] not a number",
		"* OK [UIDNEXT 99999999999999999999] too long",
		"* OK [READ-ONLY extra] arguments",
		"a1 OK [APPENDUID 38505] no uid",
		"* OK [BADCHARSET ()] empty list",
		/* patchq never searches by charset: no list is let through */
		"a3 NO [BADCHARSET (UTF-8 \"US ASCII\")] charset",
		"*\tOK [BADCHARSET (LOGIN]]]]) text",
		"* OK [UIDNEXT 5 hi",
		"+ [ALERT",
		"* OK [] nothing",
		/* libetpan takes tabs and runs of blanks for a space */
		"*\tOK [BADCHARSET (",
		"*  OK\t[PERMANENTFLAGS (\\Seen",
		"a1\tNO [UIDNEXT x]",
		/* libetpan copies the text after ALERT and PARSE: there must be one */
		"2 OK [ALERT]",
		"2 OK [PARSE] ",
		"\2122 OK [ALERT]", /* \212: a byte no tag has */
		/* and leading blanks */
		" *\tOK [BADCHARSET (LOGIN",
	};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const char *why = check(good[i]);

		if (why)
			fprintf(stderr, "refused: %s (%s)\n", good[i], why);
		CHECK(why == NULL);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = check(bad[i]);

		if (!why)
			fprintf(stderr, "passed: %s\n", bad[i]);
		CHECK(why != NULL);
	}
	CHECK_STR(check("5 OK [PERMANENTFLAGS (* BYE"), "a malformed response code");
	CHECK_STR(check("* OK [UIDNEXT 5"), "a response code that is not closed");

	/* a code not closed within what the caller kept is refused */
	CHECK(pq_imap_code_check("* OK [CAPABILITY IMAP4rev1 ID", 29) != NULL);
	CHECK(pq_imap_code_check("* OK [PERMANENTFLAGS (* ", 24) != NULL);
	/* a literal inside a code is refused, one after it is the text's business */
	CHECK(pq_imap_code_check("a3 NO [BADCHARSET ({5}", 22) != NULL);
	CHECK(pq_imap_code_check("*\tOK [BADCHARSET (\"L{5}", 24) != NULL);
	CHECK(pq_imap_code_check("* OK [ALERT] {5}", 16) == NULL);

	/* status responses and continuation requests end in text, where libetpan
	 * reads no literal; other lines may announce one */
	CHECK_INT(pq_imap_line_is_text("* OK RFC822 [] {89}\r\n", 21), 1);
	CHECK_INT(pq_imap_line_is_text("a1 NO {5}\r\n", 11), 1);
	CHECK_INT(pq_imap_line_is_text(" *\tBYE {5}\r\n", 12), 1);
	CHECK_INT(pq_imap_line_is_text("+ {5}\r\n", 7), 1);
	CHECK_INT(pq_imap_line_is_text("* 3 FETCH (UID 7 BODY[] {5}\r\n", 29), 0);
	CHECK_INT(pq_imap_line_is_text("* LIST () \"/\" {5}\r\n", 19), 0);
	CHECK_INT(pq_imap_line_is_text("a1 FETCH {5}\r\n", 14), 0);
	CHECK_DONE();
}
