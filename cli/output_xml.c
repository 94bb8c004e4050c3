/*
 * output_xml.c - nmap's XML format (-f xml), valid against nmap's DTD
 * (/usr/share/nmap/nmap.dtd) so that the tools that import nmap XML read it.
 *
 * Results stream: they arrive in completion order, interleaved across
 * hosts and threads, and a scan may cover millions of hosts, so nothing is
 * kept per host. Each result becomes a <host> element with one <port>, and
 * the writer (output.c) merges a result into the <host> element before it
 * when that element is still in its buffer and has the same address (the
 * common case of a port scan of few hosts). Memory stays one buffer per
 * thread; the price is that a host may have several <host> elements, each
 * with some of its ports (importers merge them by address, as they do for
 * nmap runs). <runstats>'s host counts are counts of <host> elements.
 *
 * nmap's DTD takes only scanner="nmap"; the comment after the prolog and
 * args say that ringprobe wrote it. There is no host discovery (as nmap
 * -Pn: status "up", reason "user-set"). Results without an address are not
 * hosts: an invalid input line becomes <target specification="..."
 * status="skipped" reason="invalid"/>, any other (dns-error) an <output>
 * line with its status and detail.
 */
#include "output_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

const char xml_host_tail[] = "</ports></host>\n";

/* nmap's port state and reason for a connect scan's outcome; outcomes
 * nmap has no word for keep ringprobe's status name (the DTD's state is
 * free text). */
static void xml_state(const struct rp_result *r, const char **state,
		      const char **reason)
{
	*state = rp_status_name(r->status);
	*reason = *state;
	switch (r->status) {
	case RP_STATUS_OPEN:
	case RP_STATUS_OK:
		*state = "open";
		*reason = "syn-ack";
		break;
	case RP_STATUS_CLOSED:
		*reason = "conn-refused";
		break;
	case RP_STATUS_FILTERED:
	case RP_STATUS_TIMEOUT:
		*state = "filtered";
		*reason = "no-response";
		break;
	case RP_STATUS_UNREACHABLE:
		*state = "filtered";
		*reason = r->err == -ENETUNREACH ? "net-unreach"
						 : "host-unreach";
		break;
	default:
		if (r->err)
			*reason = rp_errno_name(r->err);
		break;
	}
}

static void attr(struct sink *k, const char *name, const char *v)
{
	put_char(k, ' ');
	put_str(k, name);
	put_str(k, "=\"");
	xml_str(k, v);
	put_char(k, '"');
}

/* <host> up to the open <ports>; xml_host_tail closes it. */
void xml_host_head(struct sink *k, const struct rec *x)
{
	put_str(k, "<host starttime=\"");
	put_i64(k, x->time_ms / 1000);
	put_str(k, "\"><status state=\"up\" reason=\"user-set\" "
		   "reason_ttl=\"0\"/>\n<address");
	attr(k, "addr", x->ip);
	attr(k, "addrtype", x->family == AF_INET6 ? "ipv6" : "ipv4");
	put_str(k, "/>\n<hostnames></hostnames>\n<ports>");
}

/* One <port> element. */
void xml_port(struct sink *k, const struct rec *x)
{
	const char *state, *reason;

	xml_state(x->r, &state, &reason);
	put_str(k, "<port protocol=\"tcp\" portid=\"");
	put_u64(k, x->port);
	put_str(k, "\"><state");
	attr(k, "state", state);
	attr(k, "reason", reason);
	put_str(k, " reason_ttl=\"0\"/>");
	if (x->service) {
		put_str(k, "<service");
		attr(k, "name", x->service);
		put_str(k, " method=\"table\" conf=\"3\"/>");
	}
	put_str(k, "</port>\n");
}

void xml_record(struct sink *k, const struct rec *x)
{
	const struct rp_result *r = x->r;

	if (x->family) {
		xml_host_head(k, x);
		xml_port(k, x);
		put_str(k, xml_host_tail);
		return;
	}
	if (r->status == RP_STATUS_INVALID) {
		put_str(k, "<target");
		attr(k, "specification", r->input ? r->input : "");
		put_str(k, " status=\"skipped\" reason=\"invalid\"/>\n");
		return;
	}
	put_str(k, "<output type=\"interactive\">");
	xml_str(k, rp_status_name(r->status));
	put_char(k, ' ');
	xml_str(k, r->input ? r->input : "");
	if (r->detail) {
		put_str(k, ": ");
		xml_str(k, r->detail);
	}
	put_str(k, "</output>\n");
}

/* ctime-like "Mon Nov 30 10:00:00 2026" in UTC, as nmap's startstr. */
static void xml_timestr(int64_t secs, char buf[64])
{
	time_t t = (time_t)secs;
	struct tm tm;

	if (!gmtime_r(&t, &tm) ||
	    !strftime(buf, 64, "%a %b %e %H:%M:%S %Y UTC", &tm))
		snprintf(buf, 64, "?");
}

void xml_prolog(struct sink *k, const struct out_run *run)
{
	char ts[64];
	int64_t start = run->start_ms / 1000;

	xml_timestr(start, ts);
	put_str(k, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		   "<!DOCTYPE nmaprun>\n"
		   "<?xml-stylesheet href=\"file:///usr/share/nmap/nmap.xsl\" "
		   "type=\"text/xsl\"?>\n<!-- ringprobe ");
	xml_str(k, rp_version());
	put_str(k, " scan (nmap's XML format) -->\n<nmaprun scanner=\"nmap\"");
	attr(k, "args", run->args ? run->args : "ringprobe");
	put_str(k, " start=\"");
	put_i64(k, start);
	put_char(k, '"');
	attr(k, "startstr", ts);
	attr(k, "version", rp_version());
	put_str(k, " xmloutputversion=\"1.05\">\n"
		   "<scaninfo type=\"connect\" protocol=\"tcp\" "
		   "numservices=\"");
	put_u64(k, run->nports);
	put_char(k, '"');
	attr(k, "services", run->ports ? run->ports : "");
	put_str(k, "/>\n<verbose level=\"0\"/>\n<debugging level=\"0\"/>\n");
}

void xml_epilog(struct sink *k, const struct out_run *run, int64_t end_ms,
		uint64_t hosts, bool interrupted)
{
	char ts[64], sum[160];
	int64_t ms = end_ms - run->start_ms;

	xml_timestr(end_ms / 1000, ts);
	snprintf(sum, sizeof(sum), "ringprobe done at %s; %" PRIu64
		 " host elements in %" PRId64 ".%02d seconds%s", ts, hosts,
		 ms / 1000, (int)(ms % 1000 / 10),
		 interrupted ? " (interrupted)" : "");
	put_str(k, "<runstats><finished time=\"");
	put_i64(k, end_ms / 1000);
	put_char(k, '"');
	attr(k, "timestr", ts);
	attr(k, "summary", sum);
	put_str(k, " elapsed=\"");
	put_i64(k, ms / 1000);
	put_char(k, '.');
	put_char(k, (char)('0' + ms % 1000 / 100));
	put_char(k, (char)('0' + ms % 100 / 10));
	put_str(k, interrupted ? "\" exit=\"error\" errormsg=\"interrupted\"/>"
			       : "\" exit=\"success\"/>");
	put_str(k, "<hosts up=\"");
	put_u64(k, hosts);
	put_str(k, "\" down=\"0\" total=\"");
	put_u64(k, hosts);
	put_str(k, "\"/>\n</runstats>\n</nmaprun>\n");
}
