/*
 * ud.h - what an SQE's user_data carries: generation, slot and op.
 *
 *   63            32 31               8 7      0
 *  +----------------+------------------+--------+
 *  |   generation   |    slot index    |   op   |
 *  +----------------+------------------+--------+
 *
 * A completion is applied to its slot only when the generation still
 * matches, so a late CQE can never touch a probe that reused the slot.
 * Engine-wide ops (the wake read, cancels) use RP__UD_NOSLOT.
 */
#ifndef RP_UD_H
#define RP_UD_H

#include <stdint.h>

enum rp__op {
	RP__OP_NONE = 0,
	RP__OP_SOCKET,     /* in-ring socket creation (chain head) */
	RP__OP_SOCKOPT,    /* in-ring setsockopt SO_LINGER (chain) */
	RP__OP_CONNECT,    /* connect, the op whose CQE ends the chain */
	RP__OP_VERIFY,     /* connect again after a timeout: asks the socket */
	RP__OP_SEND,       /* HTTP: (part of) the request */
	RP__OP_RECV,       /* HTTP: a read into a provided buffer */
	RP__OP_DNS_POLL,   /* poll of a c-ares socket; slot = its fd entry */
	RP__OP_TIMEOUT,    /* linked timeout; posts no CQE (skip success) */
	RP__OP_CLOSE,      /* close; posts a CQE only if it fails */
	RP__OP_CANCEL,     /* async cancel; its own CQE is ignored */
	RP__OP_WAKE,       /* read of the wake eventfd */
	RP__OP_PROBE,      /* create-time feature test */
	RP__OP_FDINSTALL,  /* a connected direct socket lent to a real fd,
	                    * for getsockopt(TCP_INFO): res is that fd */
	RP__OP_WAIT,       /* TLS: a probe waiting for a handshake slot
	                    * (a timeout op, cancelled at its turn) */
};

#define RP__UD_NOSLOT 0xffffffu
#define RP__UD_MAX_SLOTS 0xffffffu

static inline uint64_t rp__ud(uint32_t gen, uint32_t slot, enum rp__op op)
{
	return ((uint64_t)gen << 32) | ((uint64_t)(slot & 0xffffffu) << 8) |
	       (uint64_t)op;
}

static inline enum rp__op rp__ud_op(uint64_t ud)
{
	return (enum rp__op)(ud & 0xffu);
}

static inline uint32_t rp__ud_slot(uint64_t ud)
{
	return (uint32_t)(ud >> 8) & 0xffffffu;
}

static inline uint32_t rp__ud_gen(uint64_t ud)
{
	return (uint32_t)(ud >> 32);
}

#endif
