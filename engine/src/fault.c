/*
 * fault.c - the hooks of fault.h, built only into the engine objects the
 * fault tests link (rp_engine_fault_obj). Counters are atomic: a target
 * source's reader thread allocates too.
 *
 * The real functions are called as (malloc)(n) and so on: the parentheses
 * keep fault.h's macros, forced in front of this file as of every other,
 * from expanding.
 */
#include <errno.h>
#include <stdatomic.h>

#include "fault.h"

struct rp__fault_knobs rp__fault;

static atomic_long calls;   /* hooked allocations since the arming */
static atomic_long fail_at; /* the call that fails; 0: none */
static atomic_bool sticky;  /* and every one after it */
static atomic_long failed;  /* allocations failed on purpose */
static atomic_long live;    /* blocks allocated and not yet freed */

void rp__fault_alloc_arm(long n, bool stick)
{
	atomic_store(&fail_at, 0);
	atomic_store(&calls, 0);
	atomic_store(&failed, 0);
	atomic_store(&sticky, stick);
	atomic_store(&fail_at, n);
}

long rp__fault_alloc_calls(void)
{
	return atomic_load(&calls);
}

long rp__fault_alloc_failed(void)
{
	return atomic_load(&failed);
}

long rp__fault_alloc_live(void)
{
	return atomic_load(&live);
}

/* Counts an allocation; true if it is to fail. */
static bool fail_now(void)
{
	long n = atomic_fetch_add(&calls, 1) + 1;
	long at = atomic_load(&fail_at);

	if (!at || n < at || (n > at && !atomic_load(&sticky)))
		return false;
	atomic_fetch_add(&failed, 1);
	errno = ENOMEM;
	return true;
}

static void *counted(void *p)
{
	if (p)
		atomic_fetch_add(&live, 1);
	return p;
}

void *rp__fault_malloc(size_t n)
{
	return fail_now() ? NULL : counted((malloc)(n));
}

void *rp__fault_calloc(size_t n, size_t size)
{
	return fail_now() ? NULL : counted((calloc)(n, size));
}

void *rp__fault_realloc(void *p, size_t n)
{
	void *q;

	if (fail_now())
		return NULL;
	q = (realloc)(p, n);
	return p ? q : counted(q); /* a resize is not a new block */
}

char *rp__fault_strdup(const char *s)
{
	return fail_now() ? NULL : counted((strdup)(s));
}

void rp__fault_free(void *p)
{
	if (p)
		atomic_fetch_sub(&live, 1);
	(free)(p);
}

void *rp__fault_mmap(void *addr, size_t len, int prot, int flags, int fd,
		     off_t off)
{
	void *p;

	if (fail_now())
		return MAP_FAILED;
	p = (mmap)(addr, len, prot, flags, fd, off);
	return p == MAP_FAILED ? p : counted(p);
}

int rp__fault_munmap(void *addr, size_t len)
{
	atomic_fetch_sub(&live, 1);
	return (munmap)(addr, len);
}
