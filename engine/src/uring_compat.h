/*
 * uring_compat.h - io_uring features newer than Debian 12's liburing 2.3,
 * prepared by hand. The only place that knows SQE field layouts beyond what
 * liburing's helpers set.
 */
#ifndef RP_URING_COMPAT_H
#define RP_URING_COMPAT_H

#include <liburing.h>
#include <stdint.h>

#ifndef SOCKET_URING_OP_SETSOCKOPT
#define SOCKET_URING_OP_SETSOCKOPT 3 /* kernel 6.7 */
#endif

/*
 * setsockopt(2) on a direct descriptor, as IORING_OP_URING_CMD (6.7+).
 * optval is read when the op executes, which for a linked op is after
 * submission: it must stay valid until the chain completes.
 */
static inline void rp__prep_setsockopt_direct(struct io_uring_sqe *sqe,
					      int file_index, int level,
					      int optname, const void *optval,
					      int optlen)
{
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, file_index, NULL, 0, 0);
	sqe->cmd_op = SOCKET_URING_OP_SETSOCKOPT;
	sqe->__pad1 = 0;
	/* level and optname share the addr field (level in the low half). */
	sqe->addr = ((uint64_t)(uint32_t)optname << 32) | (uint32_t)level;
	sqe->file_index = (uint32_t)optlen; /* optlen aliases file_index */
	sqe->addr3 = (uint64_t)(uintptr_t)optval; /* optval aliases addr3 */
	sqe->flags |= IOSQE_FIXED_FILE;
}

#ifndef IORING_OP_FIXED_FD_INSTALL
#define IORING_OP_FIXED_FD_INSTALL 54 /* kernel 6.8 */
#endif

/* Installs direct descriptor file_index as a regular (O_CLOEXEC) fd of
 * the process: the CQE's res is the new fd. */
static inline void rp__prep_fd_install(struct io_uring_sqe *sqe,
				       int file_index)
{
	io_uring_prep_rw(IORING_OP_FIXED_FD_INSTALL, sqe, file_index, NULL, 0,
			 0);
	sqe->flags |= IOSQE_FIXED_FILE;
}

#endif
