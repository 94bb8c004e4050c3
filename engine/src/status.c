/*
 * status.c - names for probe outcomes and errno values, from one table each.
 *
 * Outputs print these names, so they are part of the CLI's format; the
 * errno table lists what a connect, socket or ring op can plausibly return
 * and falls back to "E?" rather than printing numbers that vary by arch.
 */
#include <errno.h>
#include <string.h>

#include "ringprobe.h"

static const char *const status_names[RP_STATUS__COUNT] = {
	[RP_STATUS_NONE] = "none",
#define RP_STATUS_STR(name, str) [RP_STATUS_##name] = str,
	RP_STATUS_MAP(RP_STATUS_STR)
#undef RP_STATUS_STR
};

const char *rp_version(void)
{
	return RP_VERSION_STRING;
}

unsigned rp_version_number(void)
{
	return RP_VERSION_HEX;
}

const char *rp_status_name(enum rp_status s)
{
	if ((unsigned)s >= RP_STATUS__COUNT)
		return "?";
	return status_names[s];
}

int rp_status_parse(const char *name)
{
	for (int i = 1; i < RP_STATUS__COUNT; i++)
		if (strcmp(name, status_names[i]) == 0)
			return i;
	return -EINVAL;
}

#define RP_ERRNO_MAP(X)                                                        \
	X(EPERM) X(ENOENT) X(EINTR) X(EIO) X(EBADF) X(EAGAIN) X(ENOMEM)        \
	X(EACCES) X(EFAULT) X(EBUSY) X(EEXIST) X(EINVAL) X(ENFILE) X(EMFILE)   \
	X(ENOSPC) X(EPIPE) X(ERANGE) X(ENOSYS) X(ENOTSOCK) X(EDESTADDRREQ)     \
	X(EMSGSIZE) X(EPROTOTYPE) X(ENOPROTOOPT) X(EPROTONOSUPPORT)            \
	X(EOPNOTSUPP) X(EAFNOSUPPORT) X(EADDRINUSE) X(EADDRNOTAVAIL)           \
	X(ENETDOWN) X(ENETUNREACH) X(ENETRESET) X(ECONNABORTED)                \
	X(ECONNRESET) X(ENOBUFS) X(EISCONN) X(ENOTCONN) X(ESHUTDOWN)           \
	X(ETIMEDOUT) X(ECONNREFUSED) X(EHOSTDOWN) X(EHOSTUNREACH) X(EALREADY)  \
	X(EINPROGRESS) X(ECANCELED) X(ETIME) X(EPROTO) X(ENODATA) X(ENXIO)     \
	X(EBADR) X(ENODEV)

const char *rp_errno_name(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
#define RP_ERRNO_CASE(e)                                                       \
	case e:                                                                \
		return #e;
		RP_ERRNO_MAP(RP_ERRNO_CASE)
#undef RP_ERRNO_CASE
	default:
		return "E?";
	}
}

const char *rp_strerror(int err)
{
	const char *s = strerrordesc_np(err < 0 ? -err : err);

	return s ? s : "Unknown error";
}
