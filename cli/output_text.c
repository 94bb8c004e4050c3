/*
 * output_text.c - text lines, for people (one per shown result, aligned
 * columns), and grep lines, for the next tool of a pipeline (an address or
 * a URL per open or ok result, nothing else).
 */
#include "output_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <sys/socket.h>

#define ADDR_COL 22   /* text: "ip:port" column width */
#define STATUS_COL 11 /* text: status column width ("unreachable") */
#define SERVICE_COL 12 /* text, TCP: service column ("microsoft-ds") */
#define RTT_COL 10    /* text: rtt column width ("999.999 ms") */
#define HTTP_STATUS_COL 14 /* text, HTTP: status column ("protocol-error") */
#define BODY_COL 10   /* text, HTTP: body size column ("1048576 B") */
#define TIME_COL 11   /* text, HTTP: total time column, with its separator */
#define TITLE_MAX 60  /* text, HTTP: title bytes shown, "..." included */

/* The address column and the status column (status_col wide), each with
 * at least one space after it. */
static void text_lead(struct sink *k, const struct rec *x, size_t status_col)
{
	const char *where = x->where[0] ? x->where : "-";
	size_t n;

	n = strlen(where);
	put_str(k, where);
	put_pad(k, n < ADDR_COL ? ADDR_COL - n + 1 : 1);
	n = k->len;
	text_str(k, rp_status_name(x->r->status));
	n = k->len - n;
	put_pad(k, n < status_col ? status_col - n + 1 : 1);
}

/*
 * Whether the input says nothing the line does not show: an address, a
 * CIDR block or a range, with or without a port ("127.1.0.0/16",
 * "10.0.0.1-254", "[::1]:22"). A name or a URL says more.
 */
static bool input_is_numeric(const char *in)
{
	char tmp[INET6_ADDRSTRLEN + 8], *cut;
	struct in6_addr a6;
	struct in_addr a4;

	if (strspn(in, "0123456789.,:/-") == strlen(in))
		return true;
	snprintf(tmp, sizeof(tmp), "%s", in + (in[0] == '['));
	cut = strpbrk(tmp, "]/-");
	if (cut)
		*cut = '\0';
	return inet_pton(AF_INET6, tmp, &a6) == 1 ||
	       inet_pton(AF_INET, tmp, &a4) == 1;
}

/* " (input)" when the input says more than the line, and the '\n'. */
static void text_tail(struct sink *k, const struct rec *x)
{
	const char *input = x->r->input ? x->r->input : "";

	if (input[0] && strcmp(input, x->where) != 0 &&
	    (!x->family || !input_is_numeric(input))) {
		put_str(k, " (");
		text_str(k, input);
		put_char(k, ')');
	}
	put_char(k, '\n');
}

/* " dns N.NNN ms" after the time column when a name was resolved for the
 * probe (dns_us is 0 without one, or when the cache answered). */
static void text_dns(struct sink *k, const struct rp_result *r)
{
	char num[32];
	int n;

	if (!r->dns_us)
		return;
	n = snprintf(num, sizeof(num), " dns %" PRIu32 ".%03" PRIu32 " ms",
		     r->dns_us / 1000, r->dns_us % 1000);
	put_mem(k, num, (size_t)n);
}

/*
 * TCP lines have a service column (/etc/services' name for the port,
 * blank when it has none); other lines start the time column right after
 * the status:
 *
 *   192.0.2.1:22           open        ssh           0.123 ms
 *   [2001:db8::1]:80       unreachable http          1.500 ms  EHOSTUNREACH
 *   -                      invalid                          -  t.txt:3: bad port (x:99999)
 *   192.0.2.5:22           open        ssh           0.123 ms dns 4.210 ms (a.test:22)
 *   -                      dns-error                        - dns 8.000 ms  NXDOMAIN (...)
 *
 * status_col: STATUS_COL for TCP lines, HTTP_STATUS_COL for HTTP ones.
 */
static void format_text(struct sink *k, const struct rec *x,
			size_t status_col, bool tcp)
{
	const struct rp_result *r = x->r;
	const char *err = error_name(r);
	char rtt[32];
	size_t n;

	if (r->rtt_us || r->status == RP_STATUS_OPEN ||
	    r->status == RP_STATUS_CLOSED)
		snprintf(rtt, sizeof(rtt), "%" PRIu32 ".%03" PRIu32 " ms",
			 r->rtt_us / 1000, r->rtt_us % 1000);
	else
		strcpy(rtt, "-");

	text_lead(k, x, status_col);
	if (tcp) {
		n = x->service ? strlen(x->service) : 0;
		if (n)
			text_str(k, x->service);
		put_pad(k, n < SERVICE_COL ? SERVICE_COL - n : 1);
	}
	n = strlen(rtt);
	put_pad(k, n < RTT_COL ? RTT_COL - n : 0);
	put_str(k, rtt);
	text_dns(k, r);
	if (err || r->detail) {
		put_str(k, "  ");
		if (err)
			text_str(k, err);
		if (err && r->detail)
			put_str(k, ": ");
		if (r->detail)
			text_str(k, r->detail);
	}
	if ((x->flags & OUT_BANNER) && r->banner && r->banner[0]) {
		put_str(k, "  banner: ");
		text_str(k, r->banner);
	}
	text_tail(k, x);
}

/*
 * An OK result: status code, body size ('+': truncated at max_body), total
 * time (with " dns N.NNN ms" after it as in TCP lines), then the server,
 * the title (cut to TITLE_MAX bytes) and the redirect target when the
 * response has them, " (N redirects)" ("(1 redirect)") when redirects were
 * followed to get this response, and the detail when there is one (a
 * redirect not followed, the later hop that failed, or what was read
 * leniently). Anything else is shown as a TCP line, with the wider status
 * column:
 *
 *   192.0.2.1:80           ok             200    1234 B   12.345 ms  [nginx]
 *   192.0.2.2:80           ok             200      18 B    0.300 ms  "Hi"
 *   192.0.2.3:80           ok             200       6 B    0.200 ms  lenient: bare LF
 *   192.0.2.1:80           ok             301       0 B    0.950 ms  -> /x/
 *   192.0.2.1:80           ok             302       0 B    0.950 ms  -> /a
 *       redirect to http://192.0.2.1/a failed: closed  (the same line)
 *   [2001:db8::1]:80       ok             200 1048576 B+  20.000 ms (http://h/)
 *   192.0.2.7:80           protocol-error          -  HPE_INVALID_CONSTANT: ...
 */
static void format_http_text(struct sink *k, const struct rec *x)
{
	const struct rp_result *r = x->r;
	const struct rp_http_info *h = r->http;
	char num[48];
	int n;

	if (r->status != RP_STATUS_OK || !h) {
		format_text(k, x, HTTP_STATUS_COL, false);
		return;
	}
	text_lead(k, x, HTTP_STATUS_COL);
	if (h->status_code > 0)
		n = snprintf(num, sizeof(num), "%3d", h->status_code);
	else
		n = snprintf(num, sizeof(num), "  -");
	put_mem(k, num, (size_t)n);
	n = snprintf(num, sizeof(num), "%" PRIu64 " B", h->body_bytes);
	put_pad(k, n < BODY_COL ? BODY_COL - (size_t)n : 1);
	put_mem(k, num, (size_t)n);
	put_char(k, h->truncated ? '+' : ' ');
	n = snprintf(num, sizeof(num), "%" PRIu32 ".%03" PRIu32 " ms",
		     h->total_us / 1000, h->total_us % 1000);
	put_pad(k, n < TIME_COL ? TIME_COL - (size_t)n : 1);
	put_mem(k, num, (size_t)n);
	text_dns(k, r);
	if (h->server && h->server[0]) {
		put_str(k, "  [");
		text_str(k, h->server);
		put_char(k, ']');
	}
	if (h->title && h->title[0]) {
		put_str(k, "  \"");
		text_str_max(k, h->title, TITLE_MAX);
		put_char(k, '"');
	}
	if (h->location && h->location[0]) {
		put_str(k, "  -> ");
		text_str_last(k, h->location);
	}
	if (h->redirects > 0) {
		n = snprintf(num, sizeof(num), " (%" PRIu32 " redirect%s)",
			     h->redirects, h->redirects == 1 ? "" : "s");
		put_mem(k, num, (size_t)n);
	}
	if (r->detail) {
		put_str(k, "  ");
		text_str(k, r->detail);
	}
	if (r->tls && r->tls->has_cert && strcmp(r->tls->verify, "ok")) {
		put_str(k, "  verify: ");
		text_str(k, r->tls->verify);
	}
	text_tail(k, x);
}


static void format_tls_text(struct sink *k, const struct rec *x)
{
	const struct rp_result *r = x->r;
	const struct rp_tls_info *t = r->tls;
	char num[64], day[32];
	int n;

	if (r->status != RP_STATUS_OK || !t) {
		format_text(k, x, STATUS_COL, false);
		return;
	}
	text_lead(k, x, STATUS_COL);
	text_str(k, t->version);
	if (t->has_cert) {
		put_str(k, "  CN=");
		text_str(k, t->subject_cn[0] ? t->subject_cn : "-");
		iso_time(t->not_after, day);
		day[10] = '\0';
		n = snprintf(num, sizeof(num), "  expires %s (%" PRId32 "d)",
			     day, t->days_left);
		put_mem(k, num, (size_t)n);
		put_str(k, "  verify: ");
		text_str(k, t->verify);
	}
	if (t->alpn[0]) {
		put_str(k, "  alpn: ");
		text_str(k, t->alpn);
	}
	n = snprintf(num, sizeof(num), "  %" PRIu32 ".%03" PRIu32 " ms",
		     t->tls_us / 1000, t->tls_us % 1000);
	put_mem(k, num, (size_t)n);
	text_dns(k, r);
	text_tail(k, x);
}


void text_record(struct sink *k, const struct rec *x)
{
	if (x->flags & OUT_HTTP)
		format_http_text(k, x);
	else if (x->flags & OUT_TLS)
		format_tls_text(k, x);
	else
		format_text(k, x, STATUS_COL, true);
}

/*
 * The host a tls grep line names: the input's, when it gave a name
 * ("a.test", "a.test:8443", "https://a.test/"), else the address. The
 * next tool then sends the same SNI.
 */
static void grep_tls_host(struct sink *k, const struct rec *x)
{
	const char *in = x->r->input ? x->r->input : "";
	size_t n;

	if (!strncmp(in, "https://", 8))
		in += 8;
	n = strcspn(in, ":/[");
	if (n == 0 || in[n] == '[' || input_is_numeric(in)) {
		put_str(k, x->family == AF_INET6 ? "[" : "");
		put_str(k, x->ip);
		put_str(k, x->family == AF_INET6 ? "]" : "");
		return;
	}
	put_mem(k, in, n);
}

/*
 * -f grep: "ip:port" for an open TCP port, the URL requested for an ok
 * HTTP result (the last one, after redirects), "https://host:port" for an
 * ok TLS one; nothing for the rest. The text is as received: a control
 * byte in a URL becomes \xNN as in text lines.
 */
void grep_record(struct sink *k, const struct rec *x)
{
	const struct rp_result *r = x->r;

	if (!x->family)
		return;
	if ((x->flags & OUT_HTTP) && r->http && r->http->url) {
		text_str(k, r->http->url);
	} else if (x->flags & OUT_TLS) {
		put_str(k, "https://");
		grep_tls_host(k, x);
		put_char(k, ':');
		put_u64(k, x->port);
	} else {
		put_str(k, x->where);
	}
	put_char(k, '\n');
}

/* v with a comma between thousands: "65,530" */
static void put_thousands(struct sink *k, uint64_t v)
{
	char d[24];
	int n = snprintf(d, sizeof(d), "%" PRIu64, v);

	for (int i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			put_char(k, ',');
		put_char(k, d[i]);
	}
}

size_t out_not_shown(char *buf, size_t cap,
		     const uint64_t hidden[RP_STATUS__COUNT])
{
	struct sink k = { .buf = buf, .cap = cap };
	const char *sep = "Not shown: ";

	for (int s = 1; s < RP_STATUS__COUNT; s++) {
		if (!hidden[s])
			continue;
		put_str(&k, sep);
		put_thousands(&k, hidden[s]);
		put_char(&k, ' ');
		put_str(&k, rp_status_name((enum rp_status)s));
		sep = ", ";
	}
	if (k.len)
		put_char(&k, '\n');
	return sink_end(&k);
}
