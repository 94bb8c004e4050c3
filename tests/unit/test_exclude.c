/*
 * test_exclude.c - unit tests for exclude lists (exclude.c, through the
 * public rp_exclude_* calls, plus the block counts the source uses), the
 * source's screening of targets (source_screen.c: blocks skipped and
 * counted, single targets EXCLUDED, excluded ports) and the top ports read
 * from an nmap-services table (ports.c).
 *
 * The range set is checked against a plain bitmap over a small universe
 * with random items: every address, every merge.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "exclude.h"
#include "ringprobe.h"

/* ---- helpers ------------------------------------------------------------- */

static struct sockaddr_storage sa_of(const char *ip)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, ip,
			   &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	else
		fail_msg("test bug: bad address %s", ip);
	return ss;
}

static int has(const struct rp_exclude *x, const char *ip)
{
	struct sockaddr_storage ss = sa_of(ip);

	return rp_exclude_has(x, (const struct sockaddr *)&ss);
}

static struct rp_exclude *make(const char *list)
{
	struct rp_exclude *x;
	char err[256];

	assert_int_equal(rp_exclude_create(&x), 0);
	if (list && rp_exclude_add(x, list, err, sizeof(err)))
		fail_msg("rp_exclude_add(%s): %s", list, err);
	return x;
}

static char *write_tmp(const char *text)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/rp_test_exclude.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

/* ---- the range set ------------------------------------------------------- */

static void test_merge(void **st)
{
	(void)st;
	struct rp_exclude *x = make("10.0.0.0/24, 10.0.1.0/24"); /* touch */

	assert_int_equal(rp_exclude_ranges(x), 1);
	assert_true(has(x, "10.0.0.0"));
	assert_true(has(x, "10.0.1.255"));
	assert_false(has(x, "9.255.255.255"));
	assert_false(has(x, "10.0.2.0"));
	/* overlapping, contained and disjoint items, in any order */
	assert_int_equal(rp_exclude_add(x, "10.0.5.8-10.0.5.20 10.0.5.1-10.0.5.9,"
				       "10.0.0.7 192.0.2.1 10.0.5.21",
				       NULL, 0), 0);
	assert_int_equal(rp_exclude_ranges(x), 3);
	assert_false(has(x, "10.0.5.0"));
	assert_true(has(x, "10.0.5.1"));
	assert_true(has(x, "10.0.5.21"));
	assert_false(has(x, "10.0.5.22"));
	assert_true(has(x, "192.0.2.1"));
	assert_false(has(x, "192.0.2.2"));
	/* host bits of a block are ignored, as in a route */
	assert_int_equal(rp_exclude_add(x, "172.16.5.9/16", NULL, 0), 0);
	assert_true(has(x, "172.16.0.0"));
	assert_true(has(x, "172.16.255.255"));
	assert_false(has(x, "172.17.0.0"));
	rp_exclude_destroy(x);
}

/* Random items over 10.0.0.0/20 against a bitmap: every lookup, the
 * number of merged ranges, and the block counts the source relies on. */
static void test_random_vs_bitmap(void **st)
{
	(void)st;
	enum { N = 4096, BASE = 10u << 24 };
	static unsigned char bm[N];
	struct rp_exclude *x;
	char list[64 * 1024], item[64];
	size_t len = 0;

	srand(12345);
	for (int round = 0; round < 20; round++) {
		memset(bm, 0, sizeof(bm));
		len = 0;
		list[0] = '\0';
		x = make(NULL);
		for (int i = 0; i < 60; i++) {
			uint32_t a = (uint32_t)rand() % N, b = a;
			struct in_addr ia, ib;
			char sa[16], sb[16];
			int kind = rand() % 3, p = 0;

			if (kind == 1) {
				p = 22 + rand() % 11; /* /22 .. /32 */
				a &= ~((1u << (32 - p)) - 1);
				b = a + (1u << (32 - p)) - 1;
			} else if (kind == 2) {
				b = a + (uint32_t)rand() % 40;
				if (b >= N)
					b = N - 1;
			}
			for (uint32_t k = a; k <= b; k++)
				bm[k] = 1;
			ia.s_addr = htonl(BASE + a);
			ib.s_addr = htonl(BASE + b);
			inet_ntop(AF_INET, &ia, sa, sizeof(sa));
			inet_ntop(AF_INET, &ib, sb, sizeof(sb));
			if (kind == 1)
				snprintf(item, sizeof(item), "%s/%d,", sa, p);
			else if (kind == 2)
				snprintf(item, sizeof(item), "%s-%s ", sa, sb);
			else
				snprintf(item, sizeof(item), "%s\t", sa);
			memcpy(list + len, item, strlen(item) + 1);
			len += strlen(item);
		}
		/* half in one call, half in another: merging across calls */
		char *mid = strchr(list + len / 2, ',');
		if (mid) {
			*mid = '\0';
			assert_int_equal(rp_exclude_add(x, list, NULL, 0), 0);
			assert_int_equal(rp_exclude_add(x, mid + 1, NULL, 0), 0);
		} else {
			assert_int_equal(rp_exclude_add(x, list, NULL, 0), 0);
		}
		size_t runs = 0;
		for (uint32_t k = 0; k < N; k++) {
			struct sockaddr_in sin = { .sin_family = AF_INET };

			runs += bm[k] && (k == 0 || !bm[k - 1]);
			sin.sin_addr.s_addr = htonl(BASE + k);
			if (rp_exclude_has(x, (struct sockaddr *)&sin) != bm[k])
				fail_msg("round %d: address %u: %d", round, k,
					 bm[k]);
		}
		assert_int_equal(rp_exclude_ranges(x), runs);
		/* block counts, and the cached lookup walking in order */
		struct rp__exclude_cache c = { 0 };
		for (uint32_t lo = 0; lo < N; lo += 256) {
			uint64_t want = 0;

			for (uint32_t k = lo; k < lo + 256; k++) {
				want += bm[k];
				assert_int_equal(rp__exclude_v4(x, BASE + k, &c),
						 bm[k]);
			}
			assert_int_equal(rp__exclude_count4(x, BASE + lo,
							    BASE + lo + 255),
					 want);
		}
		rp_exclude_destroy(x);
	}
}

static void test_edges(void **st)
{
	(void)st;
	struct rp_exclude *x = make("0.0.0.0/0");

	assert_true(has(x, "0.0.0.0"));
	assert_true(has(x, "255.255.255.255"));
	assert_false(has(x, "::1"));
	assert_int_equal(rp__exclude_count4(x, 0, UINT32_MAX), 1ull << 32);
	rp_exclude_destroy(x);

	x = make("::/0");
	assert_true(has(x, "::"));
	assert_true(has(x, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
	assert_true(has(x, "::ffff:192.0.2.1")); /* the mapped spelling */
	assert_false(has(x, "192.0.2.1"));       /* not IPv4 itself */
	rp_exclude_destroy(x);

	/* the top of each space, merged without wrapping round */
	x = make("255.255.255.255, 255.255.255.254/31, 0.0.0.0/32");
	assert_int_equal(rp_exclude_ranges(x), 2);
	assert_true(has(x, "255.255.255.254"));
	assert_true(has(x, "0.0.0.0"));
	assert_false(has(x, "0.0.0.1"));
	assert_false(has(x, "255.255.255.253"));
	rp_exclude_destroy(x);

	x = make("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128,"
		 "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe,::/128");
	assert_int_equal(rp_exclude_ranges(x), 2);
	assert_true(has(x, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"));
	assert_false(has(x, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffd"));
	assert_true(has(x, "::"));
	assert_false(has(x, "::1"));
	rp_exclude_destroy(x);

	/* /32, /128 and ranges across the 64-bit halves */
	x = make("2001:db8::1/128, 2001:db8:0:0:ffff:ffff:ffff:ffff-"
		 "2001:db8:0:1::5, 2001:db8::/127");
	assert_true(has(x, "2001:db8::"));
	assert_true(has(x, "2001:db8::1"));
	assert_false(has(x, "2001:db8::2"));
	assert_true(has(x, "2001:db8::ffff:ffff:ffff:ffff"));
	assert_true(has(x, "2001:db8:0:1::"));
	assert_true(has(x, "2001:db8:0:1::5"));
	assert_false(has(x, "2001:db8:0:1::6"));
	assert_false(has(x, "2001:db8::ffff:ffff:ffff:fffe"));
	struct rp__u128 lo = { 0x20010db800000000ull, 0xfffffffffffffff0ull };
	struct rp__u128 hi = { 0x20010db800000001ull, 0xf };
	assert_int_equal(rp__exclude_count6(x, lo, hi), 1 + 6);
	rp_exclude_destroy(x);
}

/* IPv4 in IPv6 spelling: listed either way, refused either way. */
static void test_mapped(void **st)
{
	(void)st;
	struct rp_exclude *x = make("::ffff:192.0.2.0/120, 198.51.100.7");

	assert_true(has(x, "192.0.2.9"));
	assert_true(has(x, "::ffff:192.0.2.9"));
	assert_false(has(x, "192.0.3.0"));
	assert_true(has(x, "198.51.100.7"));
	assert_true(has(x, "::ffff:198.51.100.7"));
	assert_false(has(x, "::ffff:198.51.100.8"));
	assert_false(has(x, "::c633:6407")); /* IPv4-compatible: not mapped */
	rp_exclude_destroy(x);
}

/* Bad items: -EINVAL naming the item, and the set as it was. */
static void test_bad(void **st)
{
	(void)st;
	static const struct {
		const char *list, *want;
	} bad[] = {
		{ "10.0.0.256", "'10.0.0.256': not an address" },
		{ "10.0.0.0/33", "'10.0.0.0/33': prefix length above /32" },
		{ "::/129", "'::/129': prefix length above /128" },
		{ "10.0.0.0/", "'10.0.0.0/': bad prefix length" },
		{ "10.0.0.0/8x", "'10.0.0.0/8x': bad prefix length" },
		{ "10.0.0.0/-1", "range" }, /* "-" makes it a range */
		{ "10.0.0.5-10.0.0.1", "'10.0.0.5-10.0.0.1': range ends before" },
		{ "10.0.0.1-::1", "from one address family to the other" },
		{ "010.0.0.1", "'010.0.0.1': not an address" },
		{ "fe80::1%eth0", "not an address" },
		{ "example.test", "'example.test': not an address" },
		{ "192.0.2.1,,bad", "'bad'" },
		{ "", "empty exclude list" },
		{ " , ", "empty exclude list" },
	};
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rp_exclude *x = make("203.0.113.0/24");

		assert_int_equal(rp_exclude_add(x, bad[i].list, err,
						sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i].want))
			fail_msg("'%s': message '%s', want '%s'", bad[i].list,
				 err, bad[i].want);
		/* nothing of the failed call was added */
		assert_int_equal(rp_exclude_ranges(x), 1);
		assert_false(has(x, "192.0.2.1"));
		assert_true(has(x, "203.0.113.9"));
		rp_exclude_destroy(x);
	}
	assert_int_equal(rp_exclude_add(NULL, "1.2.3.4", NULL, 0), -EINVAL);
	assert_int_equal(rp_exclude_has(NULL, NULL), 0);
}

static void test_file(void **st)
{
	(void)st;
	struct rp_exclude *x = make(NULL);
	char err[512], *path, want[128];

	path = write_tmp("# a blocklist\n\n10.0.0.0/8\r\n"
			 "  192.0.2.1 , 192.0.2.3-192.0.2.4  # inline\n"
			 "2001:db8::/32\n"
			 "198.51.100.9"); /* no newline at the end */
	assert_int_equal(rp_exclude_add_file(x, path, err, sizeof(err)), 0);
	unlink(path);
	assert_true(has(x, "10.255.0.1"));
	assert_true(has(x, "192.0.2.1"));
	assert_false(has(x, "192.0.2.2"));
	assert_true(has(x, "192.0.2.4"));
	assert_true(has(x, "2001:db8:ffff::1"));
	assert_true(has(x, "198.51.100.9"));
	assert_int_equal(rp_exclude_ranges(x), 5);

	/* a bad line: FILE:LINE, the item, and nothing of the file added */
	path = write_tmp("172.16.0.0/12\n\n# x\n172.16.0.1/40\n");
	assert_int_equal(rp_exclude_add_file(x, path, err, sizeof(err)),
			 -EINVAL);
	snprintf(want, sizeof(want), "%s:4: '172.16.0.1/40': prefix length",
		 path);
	if (!strstr(err, want))
		fail_msg("message '%s', want '%s'", err, want);
	unlink(path);
	assert_false(has(x, "172.16.0.1"));
	assert_int_equal(rp_exclude_ranges(x), 5);

	/* a line over 1024 bytes */
	char *big = malloc(3000);
	memset(big, ' ', 2999);
	big[2999] = '\0';
	memcpy(big, "1.2.3.4\n", 8);
	path = write_tmp(big);
	free(big);
	assert_int_equal(rp_exclude_add_file(x, path, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, ":2: line longer than 1024 bytes"));
	unlink(path);
	assert_false(has(x, "1.2.3.4"));

	/* a NUL byte cannot hide the rest of an item */
	path = write_tmp("1.2.3.4");
	FILE *f = fopen(path, "a");
	fwrite("\0junk\n", 1, 6, f);
	fclose(f);
	assert_int_equal(rp_exclude_add_file(x, path, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "NUL"));
	unlink(path);

	assert_int_equal(rp_exclude_add_file(x, "/nonexistent/x", err,
					     sizeof(err)), -ENOENT);
	assert_string_equal(err, "/nonexistent/x: No such file or directory");
	rp_exclude_destroy(x);
}

/* ---- the source: blocks skipped, single targets EXCLUDED ---------------- */

struct got {
	int n, excluded;
	char text[64][512];
};

static void drain(struct rp_source *s, struct got *g)
{
	struct rp_target t;
	int r;

	g->n = g->excluded = 0;
	while ((r = rp_source_next(s, &t)) != -1) {
		char ip[64] = "-";
		int port = 0;

		assert_int_equal(r, 1);
		assert_true(g->n < 64);
		if (t.addrlen) {
			const struct sockaddr_in *a = (const void *)&t.addr;
			const struct sockaddr_in6 *a6 = (const void *)&t.addr;

			if (a->sin_family == AF_INET)
				inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
			else
				inet_ntop(AF_INET6, &a6->sin6_addr, ip,
					  sizeof(ip));
			port = ntohs(a->sin_port);
		} else if (t.name) {
			snprintf(ip, sizeof(ip), "%s", t.name);
			port = t.port;
		}
		snprintf(g->text[g->n++], sizeof(g->text[0]), "%s %s:%d%s%s",
			 rp_status_name(t.status), ip, port,
			 t.detail ? " " : "", t.detail ? t.detail : "");
		g->excluded += t.status == RP_STATUS_EXCLUDED;
	}
}

static void test_source_screen(void **st)
{
	(void)st;
	struct rp_exclude *x = make("10.0.0.2-10.0.0.3, 10.0.1.0/30, "
				    "2001:db8::2/127");
	struct rp_source_opts so = { .ports = "22,80,443", .exclude = x,
				     .exclude_ports = "443" };
	struct rp_source *s;
	struct got g;
	char err[256];

	assert_int_equal(rp_source_create(&s, &so, err, sizeof(err)), 0);
	/* a block: 8 addresses x 2 ports, 2 addresses excluded */
	assert_int_equal(rp_source_add_arg(s, "10.0.0.0/29"), 0);
	/* a block with its own port, half excluded */
	assert_int_equal(rp_source_add_arg(s, "10.0.1.0/29:22"), 0);
	/* a block with an excluded own port: all skipped */
	assert_int_equal(rp_source_add_arg(s, "10.0.2.0/30:443"), 0);
	/* an IPv6 block */
	assert_int_equal(rp_source_add_arg(s, "[2001:db8::/126]:80"), 0);
	/* single targets: one result each, EXCLUDED */
	assert_int_equal(rp_source_add_arg(s, "10.0.0.2"), 0);
	assert_int_equal(rp_source_add_arg(s, "10.0.1.1:80"), 0);
	assert_int_equal(rp_source_add_arg(s, "http://10.0.0.3:8080/x"), 0);
	assert_int_equal(rp_source_add_arg(s, "10.0.9.9:443"), 0);
	assert_int_equal(rp_source_add_arg(s, "host.test:443"), 0);
	assert_int_equal(rp_source_add_arg(s, "host.test"), 0);
	/* 12 + 4 + 0 + 2 + 2 + 1 + 1 + 1 + 1 + 2 */
	assert_int_equal(rp_source_total(s), 26);
	drain(s, &g);
	assert_int_equal(g.n, 26);
	assert_int_equal(rp_source_produced(s), 26);
	/* 4 + 4 + 4 + 2 skipped in blocks */
	assert_int_equal(rp_source_excluded(s), 14);
	assert_int_equal(g.excluded, 6);
	for (int i = 0; i < g.n; i++) {
		const char *t = g.text[i];

		if (strstr(t, ":443") && strncmp(t, "excluded", 8))
			fail_msg("port 443 probed: %s", t);
		if (!strncmp(t, "none 10.0.0.2:", 14) ||
		    !strncmp(t, "none 10.0.0.3:", 14) ||
		    !strncmp(t, "none 10.0.1.0:", 14) ||
		    !strncmp(t, "none 10.0.1.3:", 14) ||
		    !strncmp(t, "none 2001:db8::2", 16) ||
		    !strncmp(t, "none 2001:db8::3", 16))
			fail_msg("excluded address produced: %s", t);
	}
	assert_string_equal(g.text[18], "excluded 10.0.0.2:22");
	assert_string_equal(g.text[19], "excluded 10.0.0.2:80");
	assert_string_equal(g.text[20], "excluded 10.0.1.1:80");
	assert_string_equal(g.text[21], "excluded 10.0.0.3:8080");
	assert_string_equal(g.text[22],
			    "excluded 10.0.9.9:443 port 443 excluded");
	assert_string_equal(g.text[23], "excluded -:0 port 443 excluded");
	assert_string_equal(g.text[24], "none host.test:22");
	assert_string_equal(g.text[25], "none host.test:80");
	rp_source_destroy(s);
	rp_exclude_destroy(x);
}

/* ---- top ports ----------------------------------------------------------- */

static const char table[] =
	"# nmap-services, in small\n"
	"http\t80/tcp\t0.484143\t# World Wide Web HTTP\n"
	"http\t80/udp\t0.9\n"			/* udp: not counted */
	"telnet\t23/tcp\t0.221265\n"
	"https\t443/tcp\t0.208669\n"
	"ftp\t21/tcp\t0.197667\n"
	"ssh\t22/tcp\t0.182286\n"
	"x\t99999/tcp\t0.5\n"			/* not a port */
	"junk line\n"
	"a\t7/tcp\t0.01\n"
	"b\t5/tcp\t0.01\n"			/* a tie: lower port first */
	"zero\t9/tcp\t0.000000\n";

static void test_top_ports(void **st)
{
	(void)st;
	char *path = write_tmp(table);
	struct rp_source_opts so = { .top_ports = 3, .services = path };
	struct rp_source *s;
	struct got g;
	char err[400];

	assert_int_equal(rp_source_create(&s, &so, err, sizeof(err)), 0);
	assert_int_equal(rp_source_add_arg(s, "192.0.2.1"), 0);
	drain(s, &g);
	assert_int_equal(g.n, 3); /* in port order: the set is a set */
	assert_string_equal(g.text[0], "none 192.0.2.1:23");
	assert_string_equal(g.text[1], "none 192.0.2.1:80");
	assert_string_equal(g.text[2], "none 192.0.2.1:443");
	rp_source_destroy(s);

	/* the top N of the ports not excluded, as nmap picks them; ties by
	 * port; a zero frequency comes last; with -p, the union */
	so.top_ports = 7;
	so.exclude_ports = "23";
	so.ports = "1000";
	assert_int_equal(rp_source_create(&s, &so, err, sizeof(err)), 0);
	assert_int_equal(rp_source_add_arg(s, "192.0.2.1"), 0);
	drain(s, &g);
	assert_int_equal(g.n, 8);
	const int want[] = { 5, 7, 9, 21, 22, 80, 443, 1000 };
	for (int i = 0; i < 8; i++) {
		char w[64];

		snprintf(w, sizeof(w), "none 192.0.2.1:%d", want[i]);
		assert_string_equal(g.text[i], w);
	}
	rp_source_destroy(s);
	unlink(path);

	/* no table: an error naming it, or (soft) a reason on the targets
	 * that need it */
	so = (struct rp_source_opts){ .top_ports = 100,
				      .services = "/nonexistent/nmap-services" };
	assert_int_equal(rp_source_create(&s, &so, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/nmap-services"));
	assert_non_null(strstr(err, "nmap-common"));
	so.top_ports_soft = 1;
	assert_int_equal(rp_source_create(&s, &so, err, sizeof(err)), 0);
	assert_int_equal(rp_source_add_arg(s, "192.0.2.1"), 0);
	assert_int_equal(rp_source_add_arg(s, "192.0.2.1:22"), 0);
	drain(s, &g);
	assert_int_equal(g.n, 2);
	assert_non_null(strstr(g.text[0], "invalid"));
	assert_non_null(strstr(g.text[0], "/nonexistent/nmap-services"));
	assert_string_equal(g.text[1], "none 192.0.2.1:22");
	rp_source_destroy(s);

	/* the real table, when installed: the top 100 has the usual ones */
	if (access(RP_NMAP_SERVICES, R_OK) == 0) {
		so = (struct rp_source_opts){ .top_ports = 100 };
		assert_int_equal(rp_source_create(&s, &so, err, sizeof(err)),
				 0);
		assert_int_equal(rp_source_add_arg(s, "192.0.2.1"), 0);
		assert_int_equal(rp_source_total(s), 100);
		rp_source_destroy(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_random_vs_bitmap),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_mapped),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_source_screen),
		cmocka_unit_test(test_top_ports),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
