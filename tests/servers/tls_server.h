/*
 * tls_server.h - what the two halves of rp_tls_server share: the modes,
 * the server and its connection slots. tls_server.c parses options and
 * accepts; tls_server_conn.c holds everything OpenSSL does.
 */
#ifndef RP_TLS_SERVER_H
#define RP_TLS_SERVER_H

#include <pthread.h>
#include <stdatomic.h>

#include <openssl/ssl.h>

#define PROG "rp_tls_server"
#define ALPN_MAX 1024 /* --alpn in wire format */

enum kind {
	K_TLS,	   /* OpenSSL answers */
	K_SILENT,  /* read the ClientHello, say nothing */
	K_GARBAGE, /* read the ClientHello, answer with non-TLS bytes */
	K_CLOSE,   /* read the ClientHello, close */
};

#define M_SECLEVEL0 1u	 /* security level 0: TLS 1.0 and 1.1 */
#define M_ALERT 2u	 /* fail the ClientHello with an alert */
#define M_SLOW 4u	 /* handshake bytes one at a time */
#define M_NEEDS_CHAIN 8u /* --chain is required */

struct mode_desc {
	const char *name; /* --mode value */
	enum kind kind;
	int min_version; /* SSL_CTX_set_min_proto_version */
	int max_version; /* SSL_CTX_set_max_proto_version; 0 = highest */
	unsigned flags;	 /* M_* */
};

struct server;

/* One connection slot; fd == -1 means free. */
struct conn {
	struct server *sv;
	int fd;	   /* the accepted socket; owned by the thread */
	SSL *ssl;  /* K_TLS only */
	BIO *rbio; /* ciphertext from the client, fed by fill_in */
	BIO *wbio; /* ciphertext to the client, drained by flush_out */
};

struct server {
	const char *bind_addr;	      /* --bind */
	int port;		      /* --port, 0 = ephemeral */
	const char *cert;	      /* --cert */
	const char *key;	      /* --key */
	const char *chain;	      /* --chain */
	const struct mode_desc *mode; /* --mode */
	unsigned char alpn[ALPN_MAX]; /* --alpn, wire format */
	unsigned alpn_len;	      /* 0: no --alpn */
	int slow_ms;		      /* --slow-ms */
	int max_conns;		      /* --max-conns */
	double idle_seconds;	      /* --idle-seconds */
	double max_seconds;	      /* --max-seconds */
	SSL_CTX *ctx;		      /* K_TLS modes */
	pthread_mutex_t lock;	      /* guards conns[].fd and active */
	pthread_cond_t gone;	      /* a connection ended */
	struct conn *conns;	      /* max_conns slots */
	int active;		      /* slots in use */
	atomic_int stopping;	      /* set on shutdown */
	atomic_ulong accepted;	      /* connections accepted */
	atomic_ulong handshakes;      /* handshakes completed */
	atomic_ulong responses;	      /* HTTP responses sent */
};

/* Builds sv->ctx for sv->mode from the certificate options; 0 or -1
 * after a message naming the file. */
int tls_make_ctx(struct server *sv);

/*
 * A connection thread: serves the connection in slot arg (a struct conn
 * whose fd is set) as sv->mode says, closes it and frees the slot.
 */
void *tls_conn_main(void *arg);

#endif
