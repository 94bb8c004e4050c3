/*
 * stage_banner.c - the banner stage: once connected, read the first line
 * the server sends on its own (SSH, SMTP, FTP, POP3, IMAP, MySQL, Redis
 * errors ...), and report the port OPEN with that line.
 *
 *   RECEIVING --newline, full, or EOF--> OPEN with the banner
 *      | MORE: next recv      | quiet until the wait ends: OPEN, banner ""
 *      +-- reset / error: OPEN all the same (the handshake answered), the
 *          reason in detail; cancel: CANCELLED
 *
 * One RECV at a time straight into the slot's own small buffer (no shared
 * buffer ring: a banner is short and most ports send none), bounded by a
 * link timeout at min(now + banner wait, deadline). Also the worked
 * example of docs/DESIGN.md "Adding a stage".
 */
#include <errno.h>
#include <string.h>

#include "stage.h"

#define BANNER_MAX 256                /* bytes kept, NUL included */
#define DEFAULT_WAIT_NS (2 * NS_PER_SEC)

struct banner_slot {
	uint16_t len;                 /* bytes read so far */
	char buf[BANNER_MAX];
};

static struct banner_slot *priv(const struct rp_engine *e,
				const struct slot *s)
{
	return rp__priv(e, s, (unsigned)rp__stage_find(e, &rp__stage_banner));
}

static void arm_recv(struct rp_engine *e, struct slot *s)
{
	struct banner_slot *b = priv(e, s);
	struct io_uring_sqe *sqe = rp__ring_reserve(&e->r, 2);
	uint64_t wait = e->o.banner_wait_ns ? e->o.banner_wait_ns
					    : DEFAULT_WAIT_NS;

	if (!sqe) {
		rp__finish(e, s, RP_STATUS_OPEN, 0);
		return;
	}
	io_uring_prep_recv(sqe, slot_fd(e, s), b->buf + b->len,
			   BANNER_MAX - 1u - b->len, 0);
	/* The wait runs from the connect, not from each read: a server
	 * that trickles a byte at a time cannot hold the slot longer. */
	if (b->len == 0)
		rp__arm_expiry(e, s, wait);
	rp__link_op(e, s, sqe, RP__OP_RECV, IORING_TIMEOUT_ABS);
}

static void banner_start(struct rp_engine *e, struct slot *s)
{
	priv(e, s)->len = 0;
	rp__set_phase(e, s, PHASE_RECEIVING);
	arm_recv(e, s);
}

static void banner_on_cqe(struct rp_engine *e, struct slot *s,
			  const struct io_uring_cqe *cqe)
{
	struct banner_slot *b = priv(e, s);
	int res = cqe->res;

	if (res > 0) {
		b->len = (uint16_t)(b->len + res);
		if (!memchr(b->buf + b->len - res, '\n', (size_t)res) &&
		    b->len < BANNER_MAX - 1u) {
			arm_recv(e, s);
			return;
		}
		rp__finish(e, s, RP_STATUS_OPEN, 0);
		return;
	}
	switch (rp__classify(e, s, res)) {
	case END_OK:      /* EOF */
	case END_TIMEOUT: /* a quiet service */
		rp__finish(e, s, RP_STATUS_OPEN, 0);
		return;
	case END_CANCELLED:
		rp__finish(e, s, RP_STATUS_CANCELLED, 0);
		return;
	default:
		/* The handshake answered: the port is open whatever the
		 * read says. */
		s->detail = "banner read failed";
		rp__finish(e, s, RP_STATUS_OPEN, res);
		return;
	}
}

/* The first line, without its line ending; every byte that is not
 * printable ASCII becomes '?', so the library hands out only text. */
static void banner_info(struct rp_engine *e, struct slot *s,
			struct rp_result *r)
{
	struct banner_slot *b = priv(e, s);
	size_t n = 0;

	while (n < b->len && b->buf[n] != '\n') {
		unsigned char c = (unsigned char)b->buf[n];

		if (c == '\r' && (n + 1 == b->len || b->buf[n + 1] == '\n'))
			break;
		b->buf[n++] = c >= ' ' && c < 0x7f ? (char)c : '?';
	}
	b->buf[n] = '\0';
	r->banner = b->buf;
}

const struct rp__stage_ops rp__stage_banner = {
	.name = "banner",
	.priv_size = sizeof(struct banner_slot),
	.start = banner_start,
	.on_cqe = banner_on_cqe,
	.info = banner_info,
};
