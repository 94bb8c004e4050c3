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
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "http_parse.h"
#include "http_request.h"
#include "stage.h"

#define BGID 0                     /* our only provided-buffer group */
#define BUF_SIZE (16 * 1024)       /* one receive buffer */
#define BUFS_MAX 1024              /* buffers in the ring at most */
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
	uint32_t wnext;               /* waiting for a buffer: next slot */
	struct msghdr msg;            /* sendmsg of what is left to send */
	struct iovec iov[5];          /* method, path, mid, host, tail */
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
	struct io_uring_buf_ring *br; /* provided-buffer ring */
	size_t br_size;
	char *bufs;                   /* nbufs * BUF_SIZE, touched on use */
	unsigned nbufs;
	unsigned mask;
	uint32_t wait_head, wait_tail;/* slots waiting for a buffer */
	struct rp_http_info info;     /* the result being delivered */
	char url[URL_MAX];            /* its url */
	char detail[URL_MAX + 256];   /* its detail, when it is about a
	                               * redirect: written just before the
	                               * result is emitted */
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
	h->any_host = o->follow_any_host != 0;
	if (h->path[0] != '/' || !rp__wire_text_ok(h->path) ||
	    strlen(h->path) >= RP__PATH_MAX)
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

static int http_take(struct rp_engine *e, struct slot *s,
		     const struct rp_target *t)
{
	struct http_slot *hs = priv(e, s);
	int ret = rp__http_hop_target(&hs->hop[0],
				      t->path ? t->path : state(e)->path, t);

	if (ret < 0)
		s->detail = "request path or host too long";
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
	struct rp__http_hop *hp = &hs->hop[hs->cur];

	hp->started = true;
	hp->connect_us = s->rtt_us;
	hp->sent_ns = hp->first_ns = hp->done_ns = 0;
	memcpy(&hp->addr, &s->addr, s->addrlen);
	hp->addrlen = s->addrlen;
	rp__http_parse_init(&hp->p, h->rq.head, h->max_body, h->max_header);
	hs->iov[0] = (struct iovec){ h->rq.prefix, h->rq.prefix_len };
	hs->iov[1] = (struct iovec){ hp->path, hp->path_len };
	hs->iov[2] = (struct iovec){ (void *)mid, sizeof(mid) - 1 };
	hs->iov[3] = (struct iovec){ hp->host, hp->host_len };
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
	r = rp__http_redirect(from, &hs->origin, h->any_host, next, name,
			      &port, what, sizeof(what));
	if (r != RP__REDIRECT_FOLLOW) {
		not_followed(h, s, r, what);
		return false;
	}
	/*
	 * NEEDSWORK (--exclude): every address a redirect leads to must pass
	 * the exclude list, as the targets do. An address literal is known
	 * here (next->addr, when name is ""): check it at this point and end
	 * the probe like not_followed() if it is excluded. A name's
	 * addresses are known only once resolved, so the same check belongs
	 * where rp__resolved() hands the probe on, which covers targets and
	 * redirects alike.
	 */
	hs->redirects++;
	hs->cur ^= 1;
	next->started = false;
	if (!name[0]) {
		memcpy(&s->addr, &next->addr, next->addrlen);
		s->addrlen = next->addrlen;
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
		hp->done_ns = e->now_ns;
		if (follow(e, s))
			return;
		rp__finish(e, s, RP_STATUS_OK, 0);
		return;
	case RP__HTTP_TRUNCATED:
		hp->done_ns = e->now_ns;
		rp__finish(e, s, RP_STATUS_OK, 0);
		return;
	case RP__HTTP_ERROR:
	default:
		s->detail = hp->p.error;
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
	struct rp__http_hop *hp = &hs->hop[hs->cur];
	int res = cqe->res;

	if (rp__ud_op(cqe->user_data) == RP__OP_SEND) {
		if (res < 0) {
			io_failed(e, s, res);
		} else if (consume(&hs->msg, (size_t)res)) {
			arm_send(e, s); /* short send: the rest */
		} else {
			hp->sent_ns = e->now_ns;
			rp__set_phase(e, s, PHASE_RECEIVING);
			arm_recv(e, s);
		}
		return;
	}

	if (res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		enum rp__http_state st;

		if (!hp->first_ns)
			hp->first_ns = e->now_ns;
		st = rp__http_parse_feed(&hp->p,
					 h->bufs + (size_t)bid * BUF_SIZE,
					 (size_t)res);
		recycle(h, bid);
		parsed(e, s, st);
	} else if (res == 0) {
		parsed(e, s, rp__http_parse_eof(&hp->p));
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
		 "redirect to http://%s%s failed: %s%s%s%s", hp->host, hp->path,
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
	memcpy(h->url, "http://", 7);
	memcpy(h->url + 7, hp->host, hp->host_len);
	memcpy(h->url + 7 + hp->host_len, hp->path, hp->path_len + 1u);
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
