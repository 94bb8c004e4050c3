/*
 * abi.h - copying structs across versions, and create's error text
 * (internal; see abi.c).
 */
#ifndef RP_ABI_H
#define RP_ABI_H

#include <stddef.h>

/* The end of member m of type T: sizes of a struct's first versions. */
#define RP__END(T, m) (offsetof(T, m) + sizeof(((T *)0)->m))

/* rp_stats as the first version had it. */
#define RP__STATS_V1 RP__END(struct rp_stats, rtt_hist)

/* Copies the caller's src (ssize bytes) into the library's dst (dsize):
 * zero-extended when shorter. Returns 0, -EINVAL when ssize < min (older
 * than any version), or -E2BIG when it is longer and a byte this library
 * does not know is not zero (a newer option set that it cannot honour). */
int rp__struct_in(void *dst, size_t dsize, const void *src, size_t ssize,
		  size_t min);

/* Copies the library's src into the caller's dst: what both know; a
 * longer dst's tail is zeroed. */
void rp__struct_out(void *dst, size_t dsize, const void *src, size_t ssize);

/* Writes the reason a create failed into err, unless one is already there
 * (err may be NULL). */
void rp__errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
