/*
 * fault.h - fault injection for tests: a second build of the engine's
 * objects (rp_engine_fault_obj, made only with the tests) is compiled with
 * -DRP_FAULT and this header forced in front of every file (-include), so
 * that each malloc, calloc, realloc, strdup, free, mmap and munmap in the
 * engine goes through a counting hook that can be told to fail. The
 * library that is shipped is built without it and has no hook at all.
 *
 * c-ares's own allocations go through the same hooks in that build
 * (ares_library_init_mem() in dns.c), so a test can fail them too.
 * liburing's (io_uring_get_probe_ring()) and glibc's (getifaddrs(),
 * fopen()) are not hooked.
 *
 * Tests also set the knobs below, for sizes the options do not reach.
 */
#ifndef RP_FAULT_H
#define RP_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>

/*
 * Arms the hooks: the nth hooked allocation from now (1-based) fails, and
 * with sticky every one after it too; n = 0 only counts. Counters start
 * from zero.
 */
void rp__fault_alloc_arm(long n, bool sticky);

/* Hooked allocations attempted since the arming, and how many failed. */
long rp__fault_alloc_calls(void);
long rp__fault_alloc_failed(void);

/* Blocks allocated through the hooks and not yet freed (since the
 * process started): 0 after everything was torn down means no leak. */
long rp__fault_alloc_live(void);

struct rp__fault_knobs {
	unsigned http_bufs;           /* receive buffers of the HTTP stage's
	                               * provided-buffer ring (power of 2);
	                               * 0: as sized from the concurrency */
	unsigned ring_entries;        /* SQ and CQ entries (power of 2, at
	                               * least 8); 0: as sized */
	unsigned host_entries;        /* entries of the per-host table
	                               * (hosts.c); 0: as sized */
};

extern struct rp__fault_knobs rp__fault;

void *rp__fault_malloc(size_t n);
void *rp__fault_calloc(size_t n, size_t size);
void *rp__fault_realloc(void *p, size_t n);
char *rp__fault_strdup(const char *s);
void rp__fault_free(void *p);
void *rp__fault_mmap(void *addr, size_t len, int prot, int flags, int fd,
		     off_t off);
int rp__fault_munmap(void *addr, size_t len);

#ifdef RP_FAULT
#undef strdup
#define malloc(n) rp__fault_malloc(n)
#define calloc(n, size) rp__fault_calloc(n, size)
#define realloc(p, n) rp__fault_realloc(p, n)
#define strdup(s) rp__fault_strdup(s)
#define free(p) rp__fault_free(p)
#define mmap(a, l, p, f, fd, o) rp__fault_mmap(a, l, p, f, fd, o)
#define munmap(a, l) rp__fault_munmap(a, l)
#endif

#endif
