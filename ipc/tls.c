/* TLS for the tracker connection on non-blocking sockets: contexts,
 * handshake, reads and writes with socket-like EAGAIN, key pinning. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "ipc/proto.h"
#include "ipc/tls.h"

static int	pin_index = -1;		/* SSL_CTX ex_data: the pin */

static void
ssl_error(char *err, size_t errlen, const char *what)
{
	unsigned long	e = ERR_get_error();
	char		buf[256];

	ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, errlen, "%s: %s", what, e ? buf : "failed");
	ERR_clear_error();
}

static SSL_CTX *
ctx_new(const SSL_METHOD *m, char *err, size_t errlen)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(m)) == NULL) {
		ssl_error(err, errlen, "SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return ctx;
}

SSL_CTX *
tls_server_ctx(const char *cert, const char *key, char *err, size_t errlen)
{
	SSL_CTX	*ctx;

	if ((ctx = ctx_new(TLS_server_method(), err, errlen)) == NULL)
		return NULL;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		ssl_error(err, errlen, cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		ssl_error(err, errlen, key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ssl_error(err, errlen, "certificate and key do not match");
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *
tls_client_ctx(const char *cafile, const uint8_t *pin, char *err,
    size_t errlen)
{
	SSL_CTX	*ctx;
	uint8_t	*copy;

	if ((ctx = ctx_new(TLS_client_method(), err, errlen)) == NULL)
		return NULL;
	if (pin != NULL) {
		/* The pin is the trust: checked after the handshake. */
		if (pin_index == -1)
			pin_index = SSL_CTX_get_ex_new_index(0, NULL, NULL,
			    NULL, NULL);
		if ((copy = OPENSSL_memdup(pin, TLS_PIN_LEN)) == NULL ||
		    SSL_CTX_set_ex_data(ctx, pin_index, copy) != 1) {
			ssl_error(err, errlen, "pin");
			goto fail;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return ctx;
	}
	if (cafile != NULL ? SSL_CTX_load_verify_locations(ctx, cafile,
	    NULL) != 1 : SSL_CTX_set_default_verify_paths(ctx) != 1) {
		ssl_error(err, errlen, cafile ? cafile : "system CAs");
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

SSL *
tls_accept_new(SSL_CTX *ctx, int fd)
{
	SSL	*s;

	if ((s = SSL_new(ctx)) == NULL)
		return NULL;
	if (SSL_set_fd(s, fd) != 1) {
		SSL_free(s);
		return NULL;
	}
	SSL_set_accept_state(s);
	return s;
}

SSL *
tls_connect_new(SSL_CTX *ctx, int fd, const char *ip)
{
	SSL	*s;

	if ((s = SSL_new(ctx)) == NULL)
		return NULL;
	if (SSL_set_fd(s, fd) != 1 ||
	    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s), ip) != 1) {
		SSL_free(s);
		return NULL;
	}
	SSL_set_connect_state(s);
	return s;
}

/* The peer's key against the context's pin, if it has one: 1 ok. */
static int
pin_matches(SSL *s)
{
	const uint8_t	*pin = NULL;
	X509		*cert;
	uint8_t		*der = NULL, md[SHA256_DIGEST_LENGTH];
	int		 len, ok = 0;

	if (pin_index != -1)
		pin = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(s), pin_index);
	if (pin == NULL)
		return 1;
	if ((cert = SSL_get1_peer_certificate(s)) == NULL)
		return 0;
	if ((len = i2d_PUBKEY(X509_get0_pubkey(cert), &der)) > 0) {
		SHA256(der, (size_t)len, md);
		ok = CRYPTO_memcmp(md, pin, TLS_PIN_LEN) == 0;
	}
	OPENSSL_free(der);
	X509_free(cert);
	return ok;
}

/* SSL's result r of an I/O call as our convention. */
static int
io_result(SSL *s, int r, int *want_write)
{
	*want_write = 0;
	switch (SSL_get_error(s, r)) {
	case SSL_ERROR_WANT_WRITE:
		*want_write = 1;
		/* FALLTHROUGH */
	case SSL_ERROR_WANT_READ:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		ERR_clear_error();
		errno = EIO;
		return -2;
	}
}

int
tls_handshake(SSL *s, int *want_write, char *err, size_t errlen)
{
	long	v;
	int	r;

	*want_write = 0;
	if ((r = SSL_do_handshake(s)) == 1) {
		if (!pin_matches(s)) {
			snprintf(err, errlen, "the tracker's key does not "
			    "match the pinned one");
			return -1;
		}
		return 1;
	}
	if (io_result(s, r, want_write) == -1 && errno == EAGAIN)
		return 0;
	if ((v = SSL_get_verify_result(s)) != X509_V_OK)
		snprintf(err, errlen, "certificate: %s",
		    X509_verify_cert_error_string(v));
	else
		snprintf(err, errlen, "TLS handshake failed");
	return -1;
}

ssize_t
tls_read(SSL *s, void *p, size_t n, int *want_write)
{
	int	r, rc;

	if (n == 0)
		return 0;
	if ((r = SSL_read(s, p, n > INT32_MAX ? INT32_MAX : (int)n)) > 0) {
		*want_write = 0;
		return r;
	}
	rc = io_result(s, r, want_write);
	if (rc == -2)
		return SSL_get_error(s, r) == SSL_ERROR_SYSCALL && r == 0 ?
		    0 : -1;		/* a close without close_notify: EOF */
	return rc;
}

ssize_t
tls_write(SSL *s, const void *p, size_t n, int *want_write)
{
	int	r, rc;

	if ((r = SSL_write(s, p, n > INT32_MAX ? INT32_MAX : (int)n)) > 0) {
		*want_write = 0;
		return r;
	}
	rc = io_result(s, r, want_write);
	return rc == 0 || rc == -2 ? -1 : rc;
}

void
tls_free(SSL *s)
{
	if (s == NULL)
		return;
	if (SSL_is_init_finished(s))
		(void)SSL_shutdown(s);
	ERR_clear_error();
	SSL_free(s);
}

int
tls_parse_pin(const char *s, uint8_t pin[TLS_PIN_LEN])
{
	char	hex[2 * TLS_PIN_LEN + 1];
	size_t	n = 0;

	for (; *s != '\0'; s++) {
		if (*s == ':')
			continue;
		if (n == sizeof(hex) - 1)
			return -1;
		hex[n++] = *s;
	}
	hex[n] = '\0';
	if (n != 2 * TLS_PIN_LEN)
		return -1;
	return hex_decode(hex, pin, TLS_PIN_LEN) == TLS_PIN_LEN ? 0 : -1;
}

int
tls_buf_send(SSL *s, struct buf *b, int wipe, int *want_write)
{
	ssize_t	n;

	*want_write = 0;
	while (buf_avail(b) > 0) {
		if ((n = tls_write(s, buf_head(b), buf_avail(b),
		    want_write)) == -1)
			return errno == EAGAIN ? 0 : -1;
		if (wipe)
			explicit_bzero(buf_head(b), (size_t)n);
		buf_consume(b, (size_t)n);
	}
	return 1;
}
