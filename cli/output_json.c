/*
 * output_json.c - JSON Lines and CSV records: the same fields in the same
 * order for both (the JSON keys and CSV columns are an interface other
 * programs parse, so their order and spelling change only on purpose; the
 * rules are in output.h).
 *
 * HTTP records (OUT_HTTP) hold the response fields of rp_result.http as
 * well: the same keys for every result, null where there is nothing to say.
 * Their strings (title, server, location...) come from remote servers and
 * go through the escapes of output_esc.c.
 */
#include "output_int.h"

#include <stdio.h>


/* One field's value; zero-initialised it is null. */
struct value {
	enum { V_NULL = 0, V_STR, V_NUM, V_BOOL, V_INT, V_LIST } kind;
	const char *s; /* V_STR */
	uint64_t u;    /* V_NUM, V_BOOL; V_LIST: the count */
	int64_t i;     /* V_INT */
	const char *const *a; /* V_LIST: strings (CSV: space-separated) */
};

static void v_str(struct value *v, const char *s)
{
	v->kind = s ? V_STR : V_NULL; /* a NULL string is null */
	v->s = s;
}

static void v_num(struct value *v, uint64_t u)
{
	v->kind = V_NUM;
	v->u = u;
}

static void v_bool(struct value *v, bool b)
{
	v->kind = V_BOOL;
	v->u = b;
}

/* A field's name, also as its JSON lead-in: ",\"name\":" (the records
 * are formatted per result, so the text is made at compile time). */
struct key {
	const char *json;
	size_t len;
};
#define KEY(name) { ",\"" name "\":", sizeof(",\"" name "\":") - 1 }

/* A number or a boolean, written the same in JSON and CSV; false for the
 * other kinds, which each format writes its own way. */
static bool put_scalar(struct sink *k, const struct value *v)
{
	switch (v->kind) {
	case V_NUM:
		put_u64(k, v->u);
		return true;
	case V_INT:
		put_i64(k, v->i);
		return true;
	case V_BOOL:
		put_str(k, v->u ? "true" : "false");
		return true;
	default:
		return false;
	}
}

/* Fields of a record as JSON members: keys[i] with v[i], in order (the
 * first of the record without its comma). */
static void json_fields(struct sink *k, const struct key *keys,
			const struct value *v, int n, bool first)
{
	for (int i = 0; i < n; i++) {
		bool nocomma = first && i == 0;

		put_mem(k, keys[i].json + nocomma, keys[i].len - nocomma);
		if (put_scalar(k, &v[i]))
			continue;
		switch (v[i].kind) {
		case V_STR:
			json_str(k, v[i].s);
			break;
		case V_LIST:
			put_char(k, '[');
			for (uint64_t j = 0; j < v[i].u; j++) {
				if (j)
					put_char(k, ',');
				json_str(k, v[i].a[j]);
			}
			put_char(k, ']');
			break;
		default:
			put_str(k, "null");
			break;
		}
	}
}

/* Fields of a record as CSV cells, null as an empty one. */
static void csv_fields(struct sink *k, const struct value *v, int n,
		       bool first)
{
	for (int i = 0; i < n; i++) {
		if (i || !first)
			put_char(k, ',');
		if (put_scalar(k, &v[i]))
			continue;
		switch (v[i].kind) {
		case V_STR:
			csv_field(k, v[i].s);
			break;
		case V_LIST: { /* one cell, the items space-separated */
			char cell[RP_TLS_SANS_MAX * 257];
			size_t c = 0;

			for (uint64_t j = 0; j < v[i].u; j++)
				c += (size_t)snprintf(cell + c, sizeof(cell) - c,
						      "%s%s", j ? " " : "",
						      v[i].a[j]);
			csv_field(k, cell);
			break;
		}
		default: /* null: an empty field */
			break;
		}
	}
}

/* The CSV header's names, in order. */
static void csv_names(struct sink *k, const struct key *keys, int n,
		      bool first)
{
	for (int i = 0; i < n; i++) {
		if (i || !first)
			put_char(k, ',');
		put_mem(k, keys[i].json + 2, keys[i].len - 4); /* ,"name": */
	}
}

/* The fields of a TCP record, in record order. */
enum tcp_field {
	TF_INPUT,
	TF_INDEX,
	TF_IP,
	TF_PORT,
	TF_STATUS,
	TF_RTT_US,
	TF_ATTEMPTS,
	TF_ELAPSED_US,
	TF_DNS_US,
	TF_ERROR,
	TF_DETAIL,
	TF_BANNER,  /* only with OUT_BANNER */
	TF__COUNT
};

static const struct key tcp_keys[TF__COUNT] = {
	[TF_INPUT] = KEY("input"),
	[TF_INDEX] = KEY("index"),
	[TF_IP] = KEY("ip"),
	[TF_PORT] = KEY("port"),
	[TF_STATUS] = KEY("status"),
	[TF_RTT_US] = KEY("rtt_us"),
	[TF_ATTEMPTS] = KEY("attempts"),
	[TF_ELAPSED_US] = KEY("elapsed_us"),
	[TF_DNS_US] = KEY("dns_us"),
	[TF_ERROR] = KEY("error"),
	[TF_DETAIL] = KEY("detail"),
	[TF_BANNER] = KEY("banner"),
};

/* The values of a TCP record (rules in output.h). */
static void tcp_values(const struct rec *x, struct value v[TF__COUNT])
{
	const struct rp_result *r = x->r;

	memset(v, 0, TF__COUNT * sizeof(*v));
	v_str(&v[TF_INPUT], r->input ? r->input : "");
	v_num(&v[TF_INDEX], r->index);
	if (x->family) {
		v_str(&v[TF_IP], x->ip);
		v_num(&v[TF_PORT], x->port);
	}
	v_str(&v[TF_STATUS], rp_status_name(r->status));
	v_num(&v[TF_RTT_US], r->rtt_us);
	v_num(&v[TF_ATTEMPTS], r->attempts);
	v_num(&v[TF_ELAPSED_US], r->elapsed_us);
	v_num(&v[TF_DNS_US], r->dns_us);
	v_str(&v[TF_ERROR], error_name(r));
	v_str(&v[TF_DETAIL], r->detail);
	v_str(&v[TF_BANNER], r->banner);
}

/* ---- HTTP records ---------------------------------------------------- */

/* The fields of an HTTP record, in record order. */
enum http_field {
	HF_INPUT,
	HF_INDEX,
	HF_URL,
	HF_IP,
	HF_PORT,
	HF_STATUS,
	HF_HTTP_STATUS,
	HF_REASON,
	HF_CONTENT_LENGTH,
	HF_BODY_BYTES,
	HF_TRUNCATED,
	HF_CONTENT_TYPE,
	HF_SERVER,
	HF_LOCATION,
	HF_REDIRECTS,
	HF_TITLE,
	HF_BODY_HASH,
	HF_CONNECT_US,
	HF_TTFB_US,
	HF_TOTAL_US,
	HF_ATTEMPTS,
	HF_ELAPSED_US,
	HF_DNS_US,
	HF_ERROR,
	HF_DETAIL,
	HF__COUNT
};

static const struct key http_keys[HF__COUNT] = {
	[HF_INPUT] = KEY("input"),
	[HF_INDEX] = KEY("index"),
	[HF_URL] = KEY("url"),
	[HF_IP] = KEY("ip"),
	[HF_PORT] = KEY("port"),
	[HF_STATUS] = KEY("status"),
	[HF_HTTP_STATUS] = KEY("http_status"),
	[HF_REASON] = KEY("reason"),
	[HF_CONTENT_LENGTH] = KEY("content_length"),
	[HF_BODY_BYTES] = KEY("body_bytes"),
	[HF_TRUNCATED] = KEY("truncated"),
	[HF_CONTENT_TYPE] = KEY("content_type"),
	[HF_SERVER] = KEY("server"),
	[HF_LOCATION] = KEY("location"),
	[HF_REDIRECTS] = KEY("redirects"),
	[HF_TITLE] = KEY("title"),
	[HF_BODY_HASH] = KEY("body_hash"),
	[HF_CONNECT_US] = KEY("connect_us"),
	[HF_TTFB_US] = KEY("ttfb_us"),
	[HF_TOTAL_US] = KEY("total_us"),
	[HF_ATTEMPTS] = KEY("attempts"),
	[HF_ELAPSED_US] = KEY("elapsed_us"),
	[HF_DNS_US] = KEY("dns_us"),
	[HF_ERROR] = KEY("error"),
	[HF_DETAIL] = KEY("detail"),
};

/* The values of an HTTP record (rules in output.h); hash receives the
 * body hash text that v[HF_BODY_HASH] points to. */
static void http_values(const struct rec *x, char hash[17],
			struct value v[HF__COUNT])
{
	const struct rp_result *r = x->r;
	const struct rp_http_info *h = r->http;
	int resp = h && h->status_code > 0;

	memset(v, 0, HF__COUNT * sizeof(*v));
	v_str(&v[HF_INPUT], r->input ? r->input : "");
	v_num(&v[HF_INDEX], r->index);
	if (x->family) {
		v_str(&v[HF_IP], x->ip);
		v_num(&v[HF_PORT], x->port);
	}
	v_str(&v[HF_STATUS], rp_status_name(r->status));
	v_num(&v[HF_BODY_BYTES], h ? h->body_bytes : 0);
	v_num(&v[HF_REDIRECTS], h ? h->redirects : 0);
	v[HF_TRUNCATED].kind = V_BOOL;
	v[HF_TRUNCATED].u = h && h->truncated;
	if (h) {
		v_str(&v[HF_URL], h->url);
		v_num(&v[HF_CONNECT_US], h->connect_us);
		v_num(&v[HF_TTFB_US], h->ttfb_us);
		v_num(&v[HF_TOTAL_US], h->total_us);
	}
	if (resp) {
		v_num(&v[HF_HTTP_STATUS], (uint64_t)h->status_code);
		v_str(&v[HF_REASON], h->reason);
		if (h->content_length >= 0)
			v_num(&v[HF_CONTENT_LENGTH],
			      (uint64_t)h->content_length);
		v_str(&v[HF_CONTENT_TYPE], h->content_type);
		v_str(&v[HF_SERVER], h->server);
		v_str(&v[HF_LOCATION], h->location);
		v_str(&v[HF_TITLE], h->title);
		for (int i = 0; i < 16; i++)
			hash[i] = out_hex[(h->body_hash >> (60 - 4 * i)) & 0xf];
		hash[16] = '\0';
		v_str(&v[HF_BODY_HASH], hash);
	}
	v_num(&v[HF_ATTEMPTS], r->attempts);
	v_num(&v[HF_ELAPSED_US], r->elapsed_us);
	v_num(&v[HF_DNS_US], r->dns_us);
	v_str(&v[HF_ERROR], error_name(r));
	v_str(&v[HF_DETAIL], r->detail);
}

/* ---- TLS fields (after the TCP or HTTP ones, with OUT_TLS) ------------- */

enum tls_field {
	SF_TLS_VERSION,
	SF_CIPHER,
	SF_ALPN,
	SF_SNI,
	SF_SUBJECT_CN,
	SF_SANS,
	SF_ISSUER_CN,
	SF_ISSUER_ORG,
	SF_NOT_BEFORE,
	SF_NOT_AFTER,
	SF_DAYS_LEFT,
	SF_SHA256,
	SF_SELF_SIGNED,
	SF_KEY,
	SF_CHAIN_LEN,
	SF_VERIFY,
	SF_TLS_US,
	SF__COUNT
};

static const struct key tls_keys[SF__COUNT] = {
	[SF_TLS_VERSION] = KEY("tls_version"),
	[SF_CIPHER] = KEY("cipher"),
	[SF_ALPN] = KEY("alpn"),
	[SF_SNI] = KEY("sni"),
	[SF_SUBJECT_CN] = KEY("cert_subject_cn"),
	[SF_SANS] = KEY("cert_sans"),
	[SF_ISSUER_CN] = KEY("cert_issuer_cn"),
	[SF_ISSUER_ORG] = KEY("cert_issuer_org"),
	[SF_NOT_BEFORE] = KEY("cert_not_before"),
	[SF_NOT_AFTER] = KEY("cert_not_after"),
	[SF_DAYS_LEFT] = KEY("cert_days_left"),
	[SF_SHA256] = KEY("cert_sha256"),
	[SF_SELF_SIGNED] = KEY("cert_self_signed"),
	[SF_KEY] = KEY("cert_key"),
	[SF_CHAIN_LEN] = KEY("chain_len"),
	[SF_VERIFY] = KEY("verify"),
	[SF_TLS_US] = KEY("tls_us"),
};

static const char *nonempty(const char *s)
{
	return s && s[0] ? s : NULL;
}

/* The values of the TLS fields (rules in output.h); times receives the
 * two validity times' text. */
static void tls_values(const struct rp_result *r, char times[2][32],
		       struct value v[SF__COUNT])
{
	const struct rp_tls_info *t = r->tls;

	memset(v, 0, SF__COUNT * sizeof(*v));
	if (!t)
		return;
	v_str(&v[SF_TLS_VERSION], nonempty(t->version));
	v_str(&v[SF_CIPHER], nonempty(t->cipher));
	v_str(&v[SF_ALPN], nonempty(t->alpn));
	v_str(&v[SF_SNI], nonempty(t->sni));
	if (t->version && t->version[0])
		v_num(&v[SF_TLS_US], t->tls_us);
	if (!t->has_cert)
		return;
	v_str(&v[SF_SUBJECT_CN], t->subject_cn);
	v[SF_SANS].kind = V_LIST;
	v[SF_SANS].a = t->sans;
	v[SF_SANS].u = t->nsans;
	v_str(&v[SF_ISSUER_CN], t->issuer_cn);
	v_str(&v[SF_ISSUER_ORG], t->issuer_org);
	v_str(&v[SF_NOT_BEFORE], iso_time(t->not_before, times[0]));
	v_str(&v[SF_NOT_AFTER], iso_time(t->not_after, times[1]));
	v[SF_DAYS_LEFT].kind = V_INT;
	v[SF_DAYS_LEFT].i = t->days_left;
	v_str(&v[SF_SHA256], t->sha256);
	v_bool(&v[SF_SELF_SIGNED], t->self_signed);
	v_str(&v[SF_KEY], t->key);
	v_num(&v[SF_CHAIN_LEN], t->chain_len);
	v_str(&v[SF_VERIFY], t->verify);
}

/*
 * An OK `tls` result: version, the leaf's subject CN, its expiry and days
 * left, the verdict, ALPN's choice, and the handshake time. Anything else
 * is shown as a TCP line.
 *
 *   192.0.2.1:443          ok          TLSv1.3  CN=a.test  expires
 *       2027-01-01 (32d)  verify: ok  alpn: h2  12.345 ms
 */

/* ---- the fields every record ends with -------------------------------- */

enum common_field {
	CF_TIME,
	CF_ADDR,
	CF_SERVICE,
	CF__COUNT
};

static const struct key common_keys[CF__COUNT] = {
	[CF_TIME] = KEY("time"),
	[CF_ADDR] = KEY("addr"),
	[CF_SERVICE] = KEY("service"),
};

/* time: RFC 3339 UTC with milliseconds, when the result was known; addr:
 * "ip:port" or "[ip]:port", null without an address; service: the port's
 * /etc/services name (tcp), null when it has none or without an address. */
static void common_values(const struct rec *x, char time[32],
			  struct value v[CF__COUNT])
{
	memset(v, 0, CF__COUNT * sizeof(*v));
	rfc3339_ms(x->time_ms, time);
	v_str(&v[CF_TIME], time);
	if (x->family) {
		v_str(&v[CF_ADDR], x->where);
		v_str(&v[CF_SERVICE], x->service);
	}
}

_Static_assert((int)TF__COUNT <= (int)HF__COUNT, "v[] holds either record");

/* The values of x's record: the TCP or HTTP part, the TLS part, the
 * common part. */
struct values {
	const struct key *keys;
	int n;
	struct value v[HF__COUNT], tv[SF__COUNT], cv[CF__COUNT];
	char hash[17], times[2][32], time[32];
};

static void record_values(const struct rec *x, struct values *w)
{
	w->keys = tcp_keys;
	w->n = x->flags & OUT_BANNER ? TF__COUNT : TF_BANNER;
	if (x->flags & OUT_HTTP) {
		http_values(x, w->hash, w->v);
		w->keys = http_keys;
		w->n = HF__COUNT;
	} else {
		tcp_values(x, w->v);
	}
	if (x->flags & OUT_TLS)
		tls_values(x->r, w->times, w->tv);
	common_values(x, w->time, w->cv);
}

void json_record(struct sink *k, const struct rec *x)
{
	struct values w;

	record_values(x, &w);
	put_char(k, '{');
	json_fields(k, w.keys, w.v, w.n, true);
	if (x->flags & OUT_TLS)
		json_fields(k, tls_keys, w.tv, SF__COUNT, false);
	json_fields(k, common_keys, w.cv, CF__COUNT, false);
	put_str(k, "}\n");
}

void csv_record(struct sink *k, const struct rec *x)
{
	struct values w;

	record_values(x, &w);
	csv_fields(k, w.v, w.n, true);
	if (x->flags & OUT_TLS)
		csv_fields(k, w.tv, SF__COUNT, false);
	csv_fields(k, w.cv, CF__COUNT, false);
	put_char(k, '\n');
}

void csv_header(struct sink *k, unsigned int flags)
{
	if (flags & OUT_HTTP)
		csv_names(k, http_keys, HF__COUNT, true);
	else
		csv_names(k, tcp_keys, flags & OUT_BANNER ? TF__COUNT
							  : TF_BANNER, true);
	if (flags & OUT_TLS)
		csv_names(k, tls_keys, SF__COUNT, false);
	csv_names(k, common_keys, CF__COUNT, false);
	put_char(k, '\n');
}
