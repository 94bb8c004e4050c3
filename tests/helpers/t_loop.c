/*
 * t_loop.c - see t_loop.h. Uses only what ringprobe.h documents.
 */
#include "t_loop.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

uint64_t t_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Waits on fd for at most ms; returns 1 readable, 0 timed out, -errno. */
static int wait_fd(int ep, int fd, enum t_wait how, int ms)
{
	struct epoll_event ev;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n;

	if (how == T_WAIT_POLL) {
		n = poll(&p, 1, ms);
		if (n > 0 && !(p.revents & POLLIN))
			return -EIO; /* POLLERR, POLLHUP or POLLNVAL */
	} else {
		n = epoll_wait(ep, &ev, 1, ms);
	}
	if (n < 0)
		return -errno;
	return n > 0;
}

int t_loop_run(struct rp_engine *e, unsigned count, t_make_fn make,
	       void *arg, enum t_wait how, int cap_ms, int bound_ms,
	       struct t_loop_stats *st)
{
	struct epoll_event ev = { .events = EPOLLIN };
	uint64_t start = t_now_ms(), deadline = start + (uint64_t)bound_ms;
	int fd, ep = -1, ret, rc = 0, shut = 0;

	memset(st, 0, sizeof(*st));
	fd = rp_engine_fd(e);
	if (fd < 0)
		return fd;
	if (how != T_WAIT_POLL) {
		ep = epoll_create1(EPOLL_CLOEXEC);
		if (ep < 0)
			return -errno;
		if (how == T_WAIT_EPOLL_ET)
			ev.events |= EPOLLET;
		ev.data.fd = fd;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			rc = -errno;
			goto out;
		}
	}

	for (;;) {
		while (st->submitted < count && !shut) {
			struct rp_target t;

			memset(&t, 0, sizeof(t));
			make(arg, st->submitted, &t);
			ret = rp_engine_submit(e, &t);
			if (ret == -EAGAIN) {
				st->again++;
				break;
			}
			if (ret == -ESHUTDOWN) {
				shut = 1;
				break;
			}
			if (ret < 0) {
				rc = ret;
				goto out;
			}
			st->submitted++;
		}

		/* Wait: a signal ends a wait without a wakeup, so wait
		 * again (the fd or the timeout must still wake us). */
		int capped, n;
		for (;;) {
			uint64_t now = t_now_ms();

			if (now >= deadline) {
				rc = -ETIMEDOUT;
				goto out;
			}
			int left = (int)(deadline - now);
			int ours = left < cap_ms ? left : cap_ms;
			int tmo = rp_engine_timeout(e);

			capped = tmo < 0 || tmo > ours;
			if (tmo == 0)
				st->zero_waits++;
			n = wait_fd(ep, fd, how, capped ? ours : tmo);
			if (n != -EINTR)
				break;
			st->eintr++;
		}
		if (n < 0) {
			rc = n;
			goto out;
		}
		if (n > 0)
			st->fd_wakes++;
		else if (capped)
			st->cap_wakes++;
		else
			st->timer_wakes++;

		ret = rp_engine_run(e, 0);
		st->runs++;
		st->last_run = ret;
		if (ret < 0) {
			rc = ret;
			goto out;
		}
		if (ret == 0 && (st->submitted == count || shut))
			break;
	}
out:
	st->ms = t_now_ms() - start;
	if (ep >= 0)
		close(ep);
	return rc;
}
