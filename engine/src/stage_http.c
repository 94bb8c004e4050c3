/*
 * stage_http.c - the HTTP/1.1 stage: once connected, send one request and
 * read the response into buffers the kernel picks from a ring shared by
 * every probe of the engine, feeding each chunk to llhttp (http_parse.c)
 * as it arrives.
 *
 *   SENDING --all sent--> RECEIVING --response done--> OK (or a redirect:
 *      | short send: resend   | MORE: next recv        the probe restarts
 *      |                      | -ENOBUFS: wait for a buffer   elsewhere)
 *      +-- timeout / cancel / reset / parse error -------------> finish
 *
 * One op (and its absolute link timeout, min(now + io timeout, deadline))
 * in flight per probe; send and receive are never chained, since a short
 * transfer would break the chain. Buffers (bufs.c) go back to the ring as
 * soon as their bytes are parsed. The request is sent with sendmsg from
 * five pieces, three of them shared by all probes. Over TLS (an https
 * target) the stage does no I/O of its own: the same message and reads go
 * through the TLS stage below it (rp__send, rp__recv), which answers with
 * on_sent and on_data, the same steps a plain socket's completions take.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "abi.h"
#include "http_parse.h"
#include "http_request.h"
#include "stage.h"

#define URL_MAX (8 + RP__HOST_MAX + RP__PATH_MAX)
#define DEFAULT_MAX_BODY (1024 * 1024)
#define DEFAULT_MAX_HEADER (64 * 1024)

struct http_slot {
	struct rp__http_hop hop[2];   /* hop[cur] is the request under way;
	                               * the other one, after a redirect, the
	                               * request that led to it, whose
	                               * response is reported if it fails */
	struct rp__http_origin origin; /* the host redirects stay on */
	uint8_t cur;                  /* hop[cur]: the request under way */
	uint8_t redirects;            /* redirects followed */
	struct msghdr msg;            /* sendmsg of what is left to send */
	struct iovec iov[5];          /* method, path, mid, host, tail */
	struct rp__http_request *own; /* the target's own method or headers
	                               * (rp_target.method, .headers), or
	                               * NULL: the engine's */
};

struct rp__http {
	unsigned k;                   /* this stage's index in the kind */
	struct rp__http_request rq;   /* the request's shared pieces */
	const char *path;             /* default request target */
	uint64_t max_body;
	uint32_t max_header;
	uint64_t io_timeout_ns;
	uint32_t follow;              /* redirects to follow at most */
	bool any_host;                /* ... to any host */
	struct rp_http_info info;     /* the result being delivered */
	char url[URL_MAX];            /* its url */
	char detail[URL_MAX + 256];   /* its detail, when it is about a
	                               * redirect: written just before the
	                               * result is emitted */
};

static const char mid[] = " HTTP/1.1\r\nHost: ";

static void http_release(struct rp_engine *e, void *st)
{
	struct rp__http *h = st;

	(void)e;
	if (!h)
		return;
	rp__http_request_free(&h->rq);
	free(h);
}

static int http_init(struct rp_engine *e, void **out)
{
	const struct rp_http_opts *o = &e->o.http;
	struct rp__http *h = calloc(1, sizeof(*h));
	int ret;

	if (!h)
		return -ENOMEM;
	h->k = (unsigned)rp__stage_find(e, &rp__stage_http);
	h->path = o->path ? o->path : "/";
	h->max_body = o->max_body ? o->max_body : DEFAULT_MAX_BODY;
	h->max_header = o->max_header ? o->max_header : DEFAULT_MAX_HEADER;
	h->io_timeout_ns = o->io_timeout_ns ? o->io_timeout_ns : UINT64_MAX / 2;
	h->follow = o->follow;
	h->any_host = o->follow_any_host != 0;
	if (h->path[0] != '/' || !rp__wire_text_ok(h->path) ||
	    strlen(h->path) >= RP__PATH_MAX) {
		rp__errf(e->err, e->errlen, "http.path: want /PATH of printable "
			 "characters without spaces, shorter than %d",
			 RP__PATH_MAX);
		ret = -EINVAL;
	} else {
		ret = rp__http_request_build(&h->rq, o, e->err, e->errlen);
	}
	if (ret < 0) {
		http_release(e, h);
		return ret;
	}
	*out = h;
	return 0;
}

static struct rp__http *state(const struct rp_engine *e)
{
	return rp__stage_state(e, &rp__stage_http);
}

static struct http_slot *priv(const struct rp_engine *e, const struct slot *s)
{
	return rp__priv(e, s, state(e)->k);
}

/* The request this probe sends: its own, or the engine's. */
static const struct rp__http_request *request(const struct rp_engine *e,
					      const struct http_slot *hs)
{
	return hs->own ? hs->own : &state(e)->rq;
}

/* Builds the request of a target that chose its method or headers; the
 * reason it is refused goes in the slot's detail. */
static int own_request(struct rp_engine *e, struct slot *s,
		       struct http_slot *hs, const struct rp_target *t)
{
	struct rp_http_opts o = e->o.http;
	char *why = rp__slot_detail(e, s);
	int ret;

	if (t->method)
		o.method = t->method;
	if (t->headers)
		o.headers = t->headers;
	hs->own = calloc(1, sizeof(*hs->own));
	if (!hs->own) {
		s->detail = "out of memory";
		return -ENOMEM;
	}
	why[0] = '\0';
	ret = rp__http_request_build(hs->own, &o, why, RP_INPUT_MAX);
	if (ret < 0)
		s->detail = why[0] ? why : "bad method or header";
	return ret;
}

static int http_take(struct rp_engine *e, struct slot *s,
		     const struct rp_target *t)
{
	struct http_slot *hs = priv(e, s);
	int ret = rp__http_hop_target(&hs->hop[0],
				      t->path ? t->path : state(e)->path, t,
				      s->tls);

	if (ret < 0)
		s->detail = "request path or host too long";
	if (ret == 0 && (t->method || t->headers))
		ret = own_request(e, s, hs, t);
	hs->hop[0].vhost = request(e, hs)->host_set;
	rp__http_origin_set(&hs->origin, t);
	hs->cur = 0;
	hs->redirects = 0;
	hs->hop[0].started = false;
	return ret;
}

/* Makes sqe the probe's op, timed out at min(now + io timeout, deadline). */
static void link_timeout(struct rp_engine *e, struct slot *s,
			 struct io_uring_sqe *sqe, enum rp__op op)
{
	rp__arm_expiry(e, s, state(e)->io_timeout_ns);
	rp__link_op(e, s, sqe, op, IORING_TIMEOUT_ABS);
}

static void arm_send(struct rp_engine *e, struct slot *s)
{
	struct http_slot *hs = priv(e, s);
	struct io_uring_sqe *sqe;

	if (s->xport) { /* https: through TLS, within the same timeout */
		rp__arm_expiry(e, s, state(e)->io_timeout_ns);
		rp__send(e, s, &hs->msg);
		return;
	}
	sqe = rp__ring_reserve(&e->r, 2);
	if (!sqe) {
		rp__finish(e, s, RP_STATUS_ERROR, -EBUSY);
		return;
	}
	io_uring_prep_sendmsg(sqe, slot_fd(e, s), &hs->msg, MSG_NOSIGNAL);
	link_timeout(e, s, sqe, RP__OP_SEND);
}

static void arm_recv(struct rp_engine *e, struct slot *s)
{
	struct io_uring_sqe *sqe;

	if (s->xport) {
		rp__arm_expiry(e, s, state(e)->io_timeout_ns);
		rp__recv(e, s);
		return;
	}
	sqe = rp__ring_reserve(&e->r, 2);
	if (!sqe) {
		rp__finish(e, s, RP_STATUS_ERROR, -EBUSY);
		return;
	}
	rp__prep_recv_buf(e, s, sqe);
	link_timeout(e, s, sqe, RP__OP_RECV);
}

static void http_start(struct rp_engine *e, struct slot *s)
{
	struct rp__http *h = state(e);
	struct http_slot *hs = priv(e, s);
	struct rp__http_hop *hp = &hs->hop[hs->cur];
	const struct rp__http_request *rq = request(e, hs);

	hp->started = true;
	hp->connect_us = s->rtt_us;
	hp->sent_ns = hp->first_ns = hp->done_ns = 0;
	memcpy(&hp->addr, &s->addr, s->addrlen);
	hp->addrlen = s->addrlen;
	rp__http_parse_init(&hp->p, rq->head, h->max_body, h->max_header);
	hs->iov[0] = (struct iovec){ rq->prefix, rq->prefix_len };
	hs->iov[1] = (struct iovec){ hp->path, hp->path_len };
	hs->iov[2] = (struct iovec){ (void *)mid, sizeof(mid) - 1 };
	hs->iov[3] = (struct iovec){ hp->host, hp->host_len };
	if (hp->vhost) { /* -H Host: its value, or no Host at all */
		if (!rq->host)
			hs->iov[2].iov_len = sizeof(" HTTP/1.1") - 1;
		hs->iov[3] = (struct iovec){ rq->host, rq->host_len };
	}
	hs->iov[4] = (struct iovec){ rq->tail, rq->tail_len };
	memset(&hs->msg, 0, sizeof(hs->msg));
	hs->msg.msg_iov = hs->iov;
	hs->msg.msg_iovlen = 5;
	rp__set_phase(e, s, PHASE_SENDING);
	arm_send(e, s);
}

/* Drops n sent bytes from the front of the message. */
static size_t consume(struct msghdr *m, size_t n)
{
	while (m->msg_iovlen && n >= m->msg_iov->iov_len) {
		n -= m->msg_iov->iov_len;
		m->msg_iov++;
		m->msg_iovlen--;
	}
	if (m->msg_iovlen) {
		m->msg_iov->iov_base = (char *)m->msg_iov->iov_base + n;
		m->msg_iov->iov_len -= n;
	}
	return m->msg_iovlen;
}

/* Ends the probe for a failed send or receive. */
static void io_failed(struct rp_engine *e, struct slot *s, int res)
{
	switch (rp__classify(e, s, res)) {
	case END_CANCELLED:
		rp__finish(e, s, RP_STATUS_CANCELLED, 0);
		return;
	case END_TIMEOUT:
		rp__finish(e, s, RP_STATUS_TIMEOUT, 0);
		return;
	case END_RESET:
		rp__finish(e, s, RP_STATUS_RESET, res);
		return;
	default:
		rp__finish(e, s, RP_STATUS_ERROR, res);
		return;
	}
}

static bool is_redirect(int code)
{
	return code == 301 || code == 302 || code == 303 || code == 307 ||
	       code == 308;
}

/* Ends the probe with the response that redirected, saying in its
 * detail why the redirect was not followed. */
static void not_followed(struct rp__http *h, struct slot *s,
			 enum rp__redirect r, const char *what)
{
	if (r == RP__REDIRECT_OTHER_HOST)
		snprintf(h->detail, sizeof(h->detail),
			 "redirect to other host not followed: %s", what);
	else if (what[0])
		snprintf(h->detail, sizeof(h->detail),
			 "redirect to %s not followed: %s", what,
			 rp__redirect_reason(r));
	else
		snprintf(h->detail, sizeof(h->detail),
			 "redirect not followed: %s", rp__redirect_reason(r));
	s->detail = h->detail;
}

/*
 * Follows the redirect of the response just completed, in the same slot,
 * within the same deadline: a new connection (resolving first if the
 * Location names a host) and the same method, to a host in scope (see
 * rp__http_redirect()). Returns true if the probe goes on; false if it
 * ends with this response, with a detail when it was a redirect not
 * followed (the limit reached, out of scope, or a Location it cannot
 * follow).
 */
static bool follow(struct rp_engine *e, struct slot *s)
{
	struct rp__http *h = state(e);
	struct http_slot *hs = priv(e, s);
	struct rp__http_hop *from = &hs->hop[hs->cur];
	struct rp__http_hop *next = &hs->hop[hs->cur ^ 1];
	char name[256], what[RP__PATH_MAX];
	enum rp__redirect r;
	uint16_t port = 0;

	if (!h->follow || !is_redirect(from->p.status_code) ||
	    !from->p.location[0])
		return false;
	if (hs->redirects >= h->follow) {
		snprintf(h->detail, sizeof(h->detail),
			 "redirect limit %u reached", h->follow);
		s->detail = h->detail;
		return false;
	}
	r = rp__http_redirect(from, &hs->origin, h->any_host,
			      rp__stage_find(e, &rp__stage_tls) >= 0, next, name,
			      &port, what, sizeof(what));
	if (r != RP__REDIRECT_FOLLOW) {
		not_followed(h, s, r, what);
		return false;
	}
	/* An excluded address (a literal here, or a name's once resolved)
	 * is refused where every connect starts (stage_connect.c): the hop
	 * then fails as "excluded" (hop_failed()). */
	hs->redirects++;
	hs->cur ^= 1;
	next->started = false;
	s->tls = next->tls;
	if (!name[0]) {
		memcpy(&s->addr, &next->addr, next->addrlen);
		s->addrlen = next->addrlen;
		/* to an address: TLS names no host (a path keeps the host) */
		if (strcmp(next->host, from->host))
			rp__set_host(e, s, "", 0);
	}
	rp__restart(e, s, name[0] ? name : NULL, port);
	return true;
}

/* Acts on what the parser says after a chunk or EOF. */
static void parsed(struct rp_engine *e, struct slot *s,
		   enum rp__http_state st)
{
	struct http_slot *hs = priv(e, s);
	struct rp__http_hop *hp = &hs->hop[hs->cur];

	switch (st) {
	case RP__HTTP_MORE:
		arm_recv(e, s);
		return;
	case RP__HTTP_DONE:
	case RP__HTTP_TRUNCATED:
		hp->done_ns = e->now_ns;
		/* What was read leniently, if anything (ringprobe.h); a
		 * redirect not followed says why instead. */
		s->detail = rp__http_parse_lenient(&hp->p);
		if (st == RP__HTTP_DONE && follow(e, s))
			return;
		rp__finish(e, s, RP_STATUS_OK, 0);
		return;
	case RP__HTTP_ERROR:
	default:
		s->detail = hp->p.error;
		rp__finish(e, s, RP_STATUS_PROTOCOL_ERROR, 0);
		return;
	}
}

/* The request was sent (res >= 0), or sending failed. */
static void http_sent(struct rp_engine *e, struct slot *s, int res)
{
	struct http_slot *hs = priv(e, s);

	if (res < 0) {
		io_failed(e, s, res);
		return;
	}
	hs->hop[hs->cur].sent_ns = e->now_ns;
	rp__set_phase(e, s, PHASE_RECEIVING);
	arm_recv(e, s);
}

/* Response bytes (res > 0), the end of the stream (0), or a failure. */
static void http_data(struct rp_engine *e, struct slot *s, const char *buf,
		      int res)
{
	struct http_slot *hs = priv(e, s);
	struct rp__http_hop *hp = &hs->hop[hs->cur];

	if (res > 0) {
		if (!hp->first_ns)
			hp->first_ns = e->now_ns;
		parsed(e, s, rp__http_parse_feed(&hp->p, buf, (size_t)res));
	} else if (res == 0) {
		parsed(e, s, rp__http_parse_eof(&hp->p));
	} else {
		io_failed(e, s, res);
	}
}

/* A completion of our own send or receive on the socket. */
static void http_on_cqe(struct rp_engine *e, struct slot *s,
			const struct io_uring_cqe *cqe)
{
	struct http_slot *hs = priv(e, s);
	int res = cqe->res;

	if (rp__ud_op(cqe->user_data) == RP__OP_SEND) {
		if (res > 0 && consume(&hs->msg, (size_t)res))
			arm_send(e, s); /* short send: the rest */
		else
			http_sent(e, s, res);
		return;
	}
	if (res == -ENOBUFS) {
		rp__buf_wait(e, s);
	} else if (res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
		/* The parser copies what it keeps: the buffer goes back
		 * right after. */
		http_data(e, s, rp__buf_data(e, cqe), res);
		rp__buf_put(e, cqe);
	} else {
		rp__buf_put(e, cqe);
		http_data(e, s, NULL, res > 0 ? -EIO : res);
	}
}

/*
 * The hop a redirect led to failed (it gave no response: refused, timed
 * out, reset, a bad response, a name that did not resolve...): the probe
 * is OK with the response that redirected to it, from the address that
 * sent it, and the failure is in its detail.
 */
static void hop_failed(struct rp__http *h, const struct http_slot *hs,
		       struct rp_result *r)
{
	const struct rp__http_hop *hp = &hs->hop[hs->cur];
	const struct rp__http_hop *prev = &hs->hop[hs->cur ^ 1];
	const char *why = r->detail;

	if (!why && r->err && (r->status == RP_STATUS_ERROR ||
			       r->status == RP_STATUS_UNREACHABLE))
		why = rp_errno_name(r->err);
	snprintf(h->detail, sizeof(h->detail),
		 "redirect to %s://%s%s failed: %s%s%s%s",
		 hp->tls ? "https" : "http", hp->host, hp->path,
		 rp_status_name(r->status), why ? " (" : "", why ? why : "",
		 why ? ")" : "");
	r->status = RP_STATUS_OK;
	r->err = 0;
	r->detail = h->detail;
	r->addr = (const struct sockaddr *)&prev->addr;
	r->addrlen = prev->addrlen;
}

/* The response the probe reports: the last one received. */
static void http_info(struct rp_engine *e, struct slot *s, struct rp_result *r)
{
	struct rp__http *h = state(e);
	struct http_slot *hs = priv(e, s);
	const struct rp__http_hop *hp = &hs->hop[hs->cur];
	struct rp_http_info *in = &h->info;
	uint32_t redirects = hs->redirects;
	size_t n;

	if (redirects && (!hp->started || (r->status != RP_STATUS_OK &&
					   r->status != RP_STATUS_CANCELLED))) {
		if (r->status != RP_STATUS_CANCELLED)
			hop_failed(h, hs, r);
		hp = &hs->hop[hs->cur ^ 1];
		redirects--;
	}
	if (!hp->started)
		return; /* never connected */
	memset(in, 0, sizeof(*in));
	rp__http_parse_info(&hp->p, in);
	/* Always fits: URL_MAX has room for both at their longest. */
	n = hp->tls ? 8 : 7;
	memcpy(h->url, hp->tls ? "https://" : "http://", n);
	memcpy(h->url + n, hp->host, hp->host_len);
	memcpy(h->url + n + hp->host_len, hp->path, hp->path_len + 1u);
	in->url = h->url;
	in->connect_us = hp->connect_us;
	if (hp->first_ns && hp->sent_ns)
		in->ttfb_us = (uint32_t)((hp->first_ns - hp->sent_ns) / 1000u);
	in->total_us = (uint32_t)(((hp->done_ns ? hp->done_ns : e->now_ns) -
				   s->start_ns) / 1000u);
	in->redirects = redirects;
	r->http = in;
}

/* --all-addrs: the first request again, at the next address. */
static void http_rewind(struct rp_engine *e, struct slot *s)
{
	struct http_slot *hs = priv(e, s);

	hs->cur = 0;
	hs->redirects = 0;
	hs->hop[0].started = false;
}

/* The probe is over: its own request goes. */
static void http_end(struct rp_engine *e, struct slot *s)
{
	struct http_slot *hs = priv(e, s);

	if (hs->own) {
		rp__http_request_free(hs->own);
		free(hs->own);
		hs->own = NULL;
	}
}

const struct rp__stage_ops rp__stage_http = {
	.name = "http",
	.priv_size = sizeof(struct http_slot),
	.sends_first = true,
	.uses_bufs = true,
	.init = http_init,
	.release = http_release,
	.take = http_take,
	.start = http_start,
	.on_cqe = http_on_cqe,
	.resume = arm_recv,
	.on_sent = http_sent,
	.on_data = http_data,
	.info = http_info,
	.rewind = http_rewind,
	.end = http_end,
};
