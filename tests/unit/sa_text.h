/*
 * sa_text.h - the unit tests' text for an address and port: "1.2.3.4:80"
 * or "[::1]:80", for exact comparisons.
 */
#ifndef RP_TEST_SA_TEXT_H
#define RP_TEST_SA_TEXT_H

#include <arpa/inet.h>
#include <stdio.h>
#include <sys/socket.h>

static inline void sa_text(const struct sockaddr_storage *ss, char *buf,
			   size_t n)
{
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		snprintf(buf, n, "%s:%u", a, ntohs(sin->sin_port));
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		snprintf(buf, n, "[%s]:%u", a, ntohs(sin6->sin6_port));
	}
}

#endif
