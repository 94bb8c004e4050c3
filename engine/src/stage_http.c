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
 * transfer would break the chain. Buffers go back to the ring as soon as
 * their bytes are parsed, so memory follows the reads in progress, not the
 * connections open: an idle connection holds no buffer. The request is
 * sent with sendmsg from five pieces, three of them shared by all probes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "http_parse.h"
#include "http_request.h"
#include "stage.h"
#include "target.h"

#define BGID 0                     /* our only provided-buffer group */
#define BUF_SIZE (16 * 1024)       /* one receive buffer */
#define BUFS_MAX 1024              /* buffers in the ring at most */
#define HOST_MAX 272               /* Host header value */
#define PATH_MAX_ 1024             /* request target */
#define URL_MAX (8 + HOST_MAX + PATH_MAX_)
#define DEFAULT_MAX_BODY (1024 * 1024)
#define DEFAULT_MAX_HEADER (64 * 1024)

struct http_slot {
	struct rp__http_parse p;      /* the response so far */
	uint32_t wnext;               /* waiting for a buffer: next slot */
	uint8_t redirects;            /* redirects followed */
	struct msghdr msg;            /* sendmsg of what is left to send */
	struct iovec iov[5];          /* method, path, mid, host, tail */
	uint64_t sent_ns;             /* request fully sent */
	uint64_t first_ns;            /* first response byte */
	uint32_t connect_us;          /* connect round trip */
	uint16_t host_len;
	uint16_t path_len;
	char host[HOST_MAX];
	char path[PATH_MAX_];
};

struct rp__http {
	unsigned k;                   /* this stage's index in the kind */
	struct rp__http_request rq;   /* the request's shared pieces */
	const char *path;             /* default request target */
	uint64_t max_body;
	uint32_t max_header;
	uint64_t io_timeout_ns;
	uint32_t follow;              /* redirects to follow at most */
	struct io_uring_buf_ring *br; /* provided-buffer ring */
	size_t br_size;
	char *bufs;                   /* nbufs * BUF_SIZE, touched on use */
	unsigned nbufs;
	unsigned mask;
	uint32_t wait_head, wait_tail;/* slots waiting for a buffer */
	struct rp_http_info info;     /* the result being delivered */
	char url[URL_MAX];
};

static const char mid[] = " HTTP/1.1\r\nHost: ";

/* Sets up the provided-buffer ring by hand: liburing 2.3 has no
 * io_uring_setup_buf_ring(). */
static int setup_buffers(struct rp_engine *e, struct rp__http *h)
{
	unsigned n = 1;
	int ret;

	while (n < e->o.concurrency && n < BUFS_MAX)
		n <<= 1;
	h->nbufs = n;
	h->mask = io_uring_buf_ring_mask(n);
	h->br_size = n * sizeof(struct io_uring_buf);
	h->br = mmap(NULL, h->br_size, PROT_READ | PROT_WRITE,
		     MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (h->br == MAP_FAILED) {
		h->br = NULL;
		return -ENOMEM;
	}
	h->bufs = mmap(NULL, (size_t)n * BUF_SIZE, PROT_READ | PROT_WRITE,
		       MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (h->bufs == MAP_FAILED) {
		h->bufs = NULL;
		return -ENOMEM;
	}
	struct io_uring_buf_reg reg = {
		.ring_addr = (uint64_t)(uintptr_t)h->br,
		.ring_entries = n,
		.bgid = BGID,
	};
	ret = io_uring_register_buf_ring(&e->r.ring, &reg, 0);
	if (ret < 0)
		return ret; /* NEEDSWORK: per-probe buffers before 5.19 */
	io_uring_buf_ring_init(h->br);
	for (unsigned i = 0; i < n; i++)
		io_uring_buf_ring_add(h->br, h->bufs + (size_t)i * BUF_SIZE,
				      BUF_SIZE, (unsigned short)i, h->mask,
				      (int)i);
	io_uring_buf_ring_advance(h->br, (int)n);
	return 0;
}

static void http_release(struct rp_engine *e, void *st)
{
	struct rp__http *h = st;

	(void)e;
	if (!h)
		return;
	if (h->br)
		munmap(h->br, h->br_size);
	if (h->bufs)
		munmap(h->bufs, (size_t)h->nbufs * BUF_SIZE);
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
	h->wait_head = h->wait_tail = SLOT_NONE;
	h->path = o->path ? o->path : "/";
	h->max_body = o->max_body ? o->max_body : DEFAULT_MAX_BODY;
	h->max_header = o->max_header ? o->max_header : DEFAULT_MAX_HEADER;
	h->io_timeout_ns = o->io_timeout_ns ? o->io_timeout_ns : UINT64_MAX / 2;
	h->follow = o->follow;
	if (h->path[0] != '/' || !rp__wire_text_ok(h->path) ||
	    strlen(h->path) >= PATH_MAX_)
		ret = -EINVAL;
	else
		ret = rp__http_request_build(&h->rq, o);
	if (ret == 0)
		ret = setup_buffers(e, h);
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

/* Sets the slot's Host value: name (bracketed for IPv6) and ":port" unless
 * the port is 80, the default of http URLs. */
static int set_host(struct http_slot *hs, const char *name, size_t len,
		    bool v6, unsigned int port)
{
	char num[6], *d = num + sizeof(num); /* ":65535" */
	size_t nd = 0;
	char *p = hs->host;

	if (port != 80) {
		do {
			*--d = (char)('0' + port % 10);
			port /= 10;
		} while (port);
		*--d = ':';
		nd = (size_t)(num + sizeof(num) - d);
	}
	if (len + 2 * v6 + nd >= sizeof(hs->host))
		return -ENAMETOOLONG;
	if (v6)
		*p++ = '[';
	memcpy(p, name, len);
	p += len;
	if (v6)
		*p++ = ']';
	memcpy(p, d, nd);
	p += nd;
	*p = '\0';
	hs->host_len = (uint16_t)(p - hs->host);
	return 0;
}

/* Copies the Host value and request target of a target into its slot. */
static int set_target(struct http_slot *hs, const char *path,
		      const struct rp_target *t)
{
	size_t plen = strlen(path);
	char ip[INET6_ADDRSTRLEN];

	if (plen >= sizeof(hs->path))
		return -ENAMETOOLONG;
	memcpy(hs->path, path, plen + 1);
	hs->path_len = (uint16_t)plen;
	if (t->host)
		return set_host(hs, t->host, strlen(t->host), false, 80);
	if (t->name)
		return set_host(hs, t->name, strlen(t->name), false, t->port);
	if (t->addr.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)&t->addr;

		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
		return set_host(hs, ip, strlen(ip), true, ntohs(a->sin6_port));
	}
	const struct sockaddr_in *a = (const void *)&t->addr;

	inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
	return set_host(hs, ip, strlen(ip), false, ntohs(a->sin_port));
}

static int http_take(struct rp_engine *e, struct slot *s,
		     const struct rp_target *t)
{
	struct http_slot *hs = priv(e, s);
	int ret = set_target(hs, t->path ? t->path : state(e)->path, t);

	if (ret < 0)
		s->detail = "request path or host too long";
	hs->redirects = 0;
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
	struct io_uring_sqe *sqe = rp__ring_reserve(&e->r, 2);

	if (!sqe) {
		rp__finish(e, s, RP_STATUS_ERROR, -EBUSY);
		return;
	}
	io_uring_prep_sendmsg(sqe, slot_fd(e, s), &hs->msg, MSG_NOSIGNAL);
	link_timeout(e, s, sqe, RP__OP_SEND);
}

static void arm_recv(struct rp_engine *e, struct slot *s)
{
	struct io_uring_sqe *sqe = rp__ring_reserve(&e->r, 2);

	if (!sqe) {
		rp__finish(e, s, RP_STATUS_ERROR, -EBUSY);
		return;
	}
	io_uring_prep_recv(sqe, slot_fd(e, s), NULL, BUF_SIZE, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	link_timeout(e, s, sqe, RP__OP_RECV);
}

static void http_start(struct rp_engine *e, struct slot *s)
{
	struct rp__http *h = state(e);
	struct http_slot *hs = priv(e, s);

	hs->connect_us = s->rtt_us;
	hs->sent_ns = hs->first_ns = 0;
	rp__http_parse_init(&hs->p, h->rq.head, h->max_body, h->max_header);
	hs->iov[0] = (struct iovec){ h->rq.prefix, h->rq.prefix_len };
	hs->iov[1] = (struct iovec){ hs->path, hs->path_len };
	hs->iov[2] = (struct iovec){ (void *)mid, sizeof(mid) - 1 };
	hs->iov[3] = (struct iovec){ hs->host, hs->host_len };
	hs->iov[4] = (struct iovec){ h->rq.tail, h->rq.tail_len };
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

static void recycle(struct rp__http *h, unsigned bid)
{
	io_uring_buf_ring_add(h->br, h->bufs + (size_t)bid * BUF_SIZE, BUF_SIZE,
			      (unsigned short)bid, h->mask, 0);
	io_uring_buf_ring_advance(h->br, 1);
}

static void http_drop_cqe(struct rp_engine *e, const struct io_uring_cqe *cqe)
{
	if (cqe->flags & IORING_CQE_F_BUFFER)
		recycle(state(e), cqe->flags >> IORING_CQE_BUFFER_SHIFT);
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

/*
 * Follows a redirect in the same slot, within the same deadline: a new
 * connection (resolving first if the Location names a host) and the same
 * method. Only http:// Locations and absolute paths are followed; the
 * others (https, relative paths, a Location cut at its bound or too long
 * once encoded) are reported.
 * Returns true if the probe goes on.
 */
static bool follow(struct rp_engine *e, struct slot *s)
{
	struct rp__http *h = state(e);
	struct http_slot *hs = priv(e, s);
	const char *loc = hs->p.location;
	size_t len = strlen(loc);
	char host[HOST_MAX], path[PATH_MAX_], name[256] = "", err[64];
	char enc[PATH_MAX_];
	struct rp__spec sp;
	struct rp__iter it;
	uint16_t port = 0;
	int n;

	if (hs->redirects >= h->follow || !is_redirect(hs->p.status_code) ||
	    !len || len + 1 >= sizeof(hs->p.location))
		return false;
	/*
	 * The Location is the server's text, and what it asks for goes into
	 * our request line: a space or tab there would split it, and a CR or
	 * LF (which llhttp does not let into a value, but this is cheap)
	 * would end it. So every byte a request-target may not carry raw
	 * becomes %XX first, as browsers do: in the path that is the fix, in
	 * the host it makes the URL invalid (not followed). A Location that
	 * no longer fits is reported, like one cut at its bound.
	 */
	n = rp__pct_encode(enc, sizeof(enc), loc, len);
	if (n < 0)
		return false;
	loc = enc;
	len = (size_t)n;
	if (loc[0] == '/' && loc[1] != '/') {
		snprintf(host, sizeof(host), "%s", hs->host);
		snprintf(path, sizeof(path), "%s", loc);
	} else {
		if (rp__target_parse(loc, len, &sp, err, sizeof(err)) < 0 ||
		    sp.kind != RP__SPEC_URL || sp.scheme != RP__SCHEME_HTTP ||
		    sp.auth_len >= sizeof(host))
			return false;
		memcpy(host, loc + sp.auth_off, sp.auth_len);
		host[sp.auth_len] = '\0';
		rp__spec_path(&sp, loc, path, sizeof(path));
		if (!sp.port)
			sp.port = 80;
		if (!sp.family) { /* a name: resolved below */
			if (sp.host_len >= sizeof(name))
				return false;
			memcpy(name, loc + sp.auth_off, sp.host_len);
			name[sp.host_len] = '\0';
			port = sp.port;
		} else if (rp__iter_init(&it, &sp, NULL, err, sizeof(err)) < 0 ||
			   !rp__iter_next(&it, &s->addr, &s->addrlen)) {
			return false; /* (never: one address, one port) */
		}
	}
	hs->redirects++;
	hs->host_len = (uint16_t)snprintf(hs->host, sizeof(hs->host), "%s",
					  host);
	hs->path_len = (uint16_t)snprintf(hs->path, sizeof(hs->path), "%s",
					  path);
	rp__restart(e, s, name[0] ? name : NULL, port);
	return true;
}

/* Acts on what the parser says after a chunk or EOF. */
static void parsed(struct rp_engine *e, struct slot *s,
		   enum rp__http_state st)
{
	struct http_slot *hs = priv(e, s);

	switch (st) {
	case RP__HTTP_MORE:
		arm_recv(e, s);
		return;
	case RP__HTTP_DONE:
		if (follow(e, s))
			return;
		/* fall through */
	case RP__HTTP_TRUNCATED:
		/* What was read leniently, if anything (ringprobe.h). */
		s->detail = rp__http_parse_lenient(&hs->p);
		rp__finish(e, s, RP_STATUS_OK, 0);
		return;
	case RP__HTTP_ERROR:
	default:
		s->detail = hs->p.error;
		rp__finish(e, s, RP_STATUS_PROTOCOL_ERROR, 0);
		return;
	}
}

/* The slots whose receive found the buffer ring empty wait on a list of
 * their own (linked through http_slot.wnext) for the end of the turn. */
static void wait_for_buffer(struct rp_engine *e, struct slot *s)
{
	struct rp__http *h = state(e);
	uint32_t i = slot_idx(e, s);

	priv(e, s)->wnext = SLOT_NONE;
	if (h->wait_tail == SLOT_NONE)
		h->wait_head = i;
	else
		priv(e, &e->slots[h->wait_tail])->wnext = i;
	h->wait_tail = i;
}

static void http_on_cqe(struct rp_engine *e, struct slot *s,
			const struct io_uring_cqe *cqe)
{
	struct rp__http *h = state(e);
	struct http_slot *hs = priv(e, s);
	int res = cqe->res;

	if (rp__ud_op(cqe->user_data) == RP__OP_SEND) {
		if (res < 0) {
			io_failed(e, s, res);
		} else if (consume(&hs->msg, (size_t)res)) {
			arm_send(e, s); /* short send: the rest */
		} else {
			hs->sent_ns = e->now_ns;
			rp__set_phase(e, s, PHASE_RECEIVING);
			arm_recv(e, s);
		}
		return;
	}

	if (res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		enum rp__http_state st;

		if (!hs->first_ns)
			hs->first_ns = e->now_ns;
		st = rp__http_parse_feed(&hs->p, h->bufs + (size_t)bid * BUF_SIZE,
					 (size_t)res);
		recycle(h, bid);
		parsed(e, s, st);
	} else if (res == 0) {
		parsed(e, s, rp__http_parse_eof(&hs->p));
	} else if (res == -ENOBUFS) {
		wait_for_buffer(e, s);
	} else {
		http_drop_cqe(e, cqe);
		io_failed(e, s, res < 0 ? res : -EIO);
	}
}

/* Gives the slots that found no buffer another receive, now that the
 * turn's completions gave buffers back. Only the slots waiting now: one
 * that gets -ENOBUFS again waits for the next turn. */
static void http_end_turn(struct rp_engine *e)
{
	struct rp__http *h = state(e);
	uint32_t i = h->wait_head;

	h->wait_head = h->wait_tail = SLOT_NONE;
	while (i != SLOT_NONE) {
		struct slot *s = &e->slots[i];

		i = priv(e, s)->wnext;
		if (s->cancel)
			rp__finish(e, s, RP_STATUS_CANCELLED, 0);
		else if (e->now_ns >= s->deadline_ns)
			rp__finish(e, s, RP_STATUS_TIMEOUT, 0);
		else
			arm_recv(e, s);
	}
}

static void http_info(struct rp_engine *e, struct slot *s, struct rp_result *r)
{
	struct rp__http *h = state(e);
	struct http_slot *hs = priv(e, s);
	struct rp_http_info *in = &h->info;

	if (s->stage < h->k)
		return; /* never connected */
	memset(in, 0, sizeof(*in));
	rp__http_parse_info(&hs->p, in);
	/* Always fits: URL_MAX has room for both at their longest. */
	memcpy(h->url, "http://", 7);
	memcpy(h->url + 7, hs->host, hs->host_len);
	memcpy(h->url + 7 + hs->host_len, hs->path, hs->path_len + 1u);
	in->url = h->url;
	in->connect_us = hs->connect_us;
	if (hs->first_ns && hs->sent_ns)
		in->ttfb_us = (uint32_t)((hs->first_ns - hs->sent_ns) / 1000u);
	in->total_us = (uint32_t)((e->now_ns - s->start_ns) / 1000u);
	in->redirects = hs->redirects;
	r->http = in;
}

static void http_rewind(struct rp_engine *e, struct slot *s)
{
	priv(e, s)->redirects = 0;
}

const struct rp__stage_ops rp__stage_http = {
	.name = "http",
	.priv_size = sizeof(struct http_slot),
	.sends_first = true,
	.init = http_init,
	.release = http_release,
	.take = http_take,
	.start = http_start,
	.on_cqe = http_on_cqe,
	.drop_cqe = http_drop_cqe,
	.end_turn = http_end_turn,
	.info = http_info,
	.rewind = http_rewind,
};
