/* Validation of the names and passwords users type, per the contract:
 * names 1..64 bytes of [A-Za-z0-9._-] not starting with '.', passwords
 * 1..128 printable ASCII bytes without spaces. */
#ifndef IPC_NAMES_H
#define IPC_NAMES_H

#define NAME_MAX_LEN		64
#define PASSWORD_MAX_LEN	128

int	name_valid(const char *);	/* 1 if valid, 0 if not */
int	password_valid(const char *);
/* A session token: exactly SESSION_TOKEN_LEN of [A-Za-z0-9]. */
#define SESSION_TOKEN_LEN	16
int	session_token_valid(const char *);

#endif
