/*
 * html: escaping and the frame of the desk's pages (see html.h).
 */
#include "html.h"

#include <string.h>

/* What stands for byte c in HTML text, or NULL when c stands for itself. */
static const char *html_entity(unsigned char c)
{
	switch (c) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	case '\'':
		return "&#39;";
	default:
		if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
			return "\xef\xbf\xbd";
		return NULL;
	}
}

void pq_html_text_len(struct pq_buf *out, const char *s, size_t len)
{
	size_t i, run = 0;
	const char *e;

	/* the bytes that stand for themselves go in a run at a time: a
	 * series page escapes half a megabyte of diffs */
	for (i = 0; i < len; i++) {
		e = html_entity((unsigned char)s[i]);
		if (!e)
			continue;
		pq_buf_add(out, s + run, i - run);
		pq_buf_adds(out, e);
		run = i + 1;
	}
	pq_buf_add(out, s + run, len - run);
}

void pq_html_text(struct pq_buf *out, const char *s)
{
	if (s)
		pq_html_text_len(out, s, strlen(s));
}

void pq_html_url(struct pq_buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-._~", c)) {
			pq_buf_addc(out, (char)c);
		} else {
			pq_buf_addc(out, '%');
			pq_buf_addc(out, hex[c >> 4]);
			pq_buf_addc(out, hex[c & 15]);
		}
	}
}

void pq_html_begin(struct pq_buf *out, const char *title, const char *who)
{
	pq_buf_adds(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
			 "<meta name=\"viewport\" content=\"width=device-width\">\n<title>");
	pq_html_text(out, title);
	pq_buf_adds(out,
		    " - patchq</title>\n<link rel=\"stylesheet\" href=\"/desk.css\">\n"
		    "</head>\n<body>\n<nav><a href=\"/\">to-do</a> | <a href=\"/series\">series</a>"
		    " | <a href=\"/outbox\">outbox</a> | ");
	if (who) {
		pq_buf_adds(out, "<span class=\"who\">");
		pq_html_text(out, who);
		pq_buf_adds(out, "</span> <a href=\"/logout\">log out</a>");
	} else {
		pq_buf_adds(out, "<a href=\"/login\">log in</a>");
	}
	pq_buf_adds(out, "</nav>\n<main>\n<h1>");
	pq_html_text(out, title);
	pq_buf_adds(out, "</h1>\n");
}

void pq_html_end(struct pq_buf *out)
{
	pq_buf_adds(out, "</main>\n</body>\n</html>\n");
}

const char pq_html_css[] =
	"body{font-family:sans-serif;margin:0;color:#222;background:#fff}\n"
	"nav{background:#2d3e50;color:#fff;padding:.4em 1em}\n"
	"nav a{color:#fff}\n"
	"main{padding:0 1em 2em}\n"
	"table{border-collapse:collapse;margin:.5em 0}\n"
	"th,td{border-bottom:1px solid #ddd;padding:.2em .6em;text-align:left;vertical-align:top}\n"
	"pre{background:#f6f8fa;padding:.5em;overflow-x:auto}\n"
	".add{color:#116611;background:#e6ffec}\n"
	".del{color:#a31515;background:#ffebe9}\n"
	".hunk{color:#6f42c1}\n"
	".meta{color:#666}\n"
	".bad{color:#a31515;font-weight:bold}\n"
	".good{color:#116611}\n"
	"form.inline{display:inline}\n"
	"form.edit input,form.edit textarea{box-sizing:border-box;width:100%;max-width:52em}\n"
	"form.edit textarea{font-family:monospace}\n"
	"h2{border-bottom:1px solid #ccc;padding-bottom:.1em}\n";
