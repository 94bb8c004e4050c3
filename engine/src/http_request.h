/*
 * http_request.h - the request pieces every HTTP probe of an engine shares
 * (http_request.c); the stage adds the path and Host of each probe.
 */
#ifndef RP_HTTP_REQUEST_H
#define RP_HTTP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "ringprobe.h"

struct rp__http_request {
	char *prefix;                 /* "GET " */
	size_t prefix_len;
	char *tail;                   /* "\r\nUser-Agent: ...\r\n\r\n" */
	size_t tail_len;
	bool head;                    /* method is HEAD: no body */
};

/* Builds them from o. Returns 0, -EINVAL when a method, User-Agent or
 * header could inject or break a line, or -ENOMEM. Free with
 * rp__http_request_free() either way. */
int rp__http_request_build(struct rp__http_request *h,
			   const struct rp_http_opts *o);
void rp__http_request_free(struct rp__http_request *h);

#endif
