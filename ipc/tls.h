/* TLS on the tracker connection (OpenSSL libssl), for non-blocking
 * sockets: the server and client contexts, a TLS ClientHello sniffed from
 * the first byte, reads and writes that report EAGAIN like a socket. */
#ifndef IPC_TLS_H
#define IPC_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "ipc/proto.h"

#define TLS_PIN_LEN		32	/* SHA-256 of the SubjectPublicKeyInfo */
#define TLS_RECORD_BYTE		0x16	/* a handshake record starts so */

/* The server side: certificate chain and private key (PEM). NULL with a
 * message in err. */
SSL_CTX	*tls_server_ctx(const char *cert, const char *key, char *err,
	    size_t errlen);
/*
 * The client side. cafile: PEM CAs to verify the tracker's certificate
 * (and its IP address) against; pin: the SHA-256 of the tracker's public
 * key (SPKI) instead; both NULL: the system's CAs. NULL with err set.
 */
SSL_CTX	*tls_client_ctx(const char *cafile, const uint8_t *pin, char *err,
	    size_t errlen);
/* An SSL on a connected non-blocking fd: the server's, or the client's
 * for a tracker at ip (dotted quad, checked against the certificate when
 * verifying against CAs). NULL on failure. */
SSL	*tls_accept_new(SSL_CTX *, int fd);
SSL	*tls_connect_new(SSL_CTX *, int fd, const char *ip);
/*
 * Drive the handshake: 1 done, 0 not yet (*want_write says whether it
 * waits for the socket to be writable), -1 failed (err says why, e.g. a
 * certificate or pin mismatch).
 */
int	 tls_handshake(SSL *, int *want_write, char *err, size_t errlen);
/* Like recv/send: bytes, 0 at the peer's close (read), or -1 with errno
 * EAGAIN (*want_write: wait for writability) or EIO. */
ssize_t	 tls_read(SSL *, void *, size_t, int *want_write);
ssize_t	 tls_write(SSL *, const void *, size_t, int *want_write);
/* buf_send over TLS: send what b holds (zeroing it after if wipe): 1 all
 * sent, 0 blocked (*want_write as above), -1 error. */
int	 tls_buf_send(SSL *, struct buf *b, int wipe, int *want_write);
/* Free it (a close_notify is attempted, never waited for). */
void	 tls_free(SSL *);
/* "hex" (64 digits, colons allowed) to a pin; 0 or -1. */
int	 tls_parse_pin(const char *, uint8_t pin[TLS_PIN_LEN]);

#endif
