/*
 * proxy-proto: parser for the HAProxy PROXY protocol header, version 1
 * (one text line) and version 2 (binary), as sent by the load balancer at
 * the start of each TCP connection before any client byte.
 *
 * Contract:
 *  - Pure function over a byte prefix of the connection: it never reads the
 *    socket and keeps no state. Call it again with the longer prefix when it
 *    answers PROXY_NEED_MORE (each call re-parses from the first byte; the
 *    header is small, at most PROXY_MAX_HEADER bytes).
 *  - PROXY_DONE: *info_r is filled and *consumed_r is the header length; the
 *    bytes after it belong to the client (TLS or IMAP) and must be kept.
 *  - PROXY_NEED_MORE: every byte seen so far is a valid prefix of a header
 *    this function would accept; *consumed_r = 0.
 *  - PROXY_ERROR: as soon as the bytes cannot start a valid header; *err_r
 *    points to a static reason string. The caller closes the connection (a
 *    connection from the load balancer that fails this is not to be trusted).
 *  - Output parameters may be NULL when not wanted. *info_r is written only
 *    on PROXY_DONE; err_r only on PROXY_ERROR.
 *  - The caller bounds the wait (a timer): NEED_MORE forever is its problem.
 *
 * Accepted, strictly:
 *  - v1: "PROXY TCP4 <ip4> <ip4> <port> <port>\r\n", the same with TCP6 and
 *    IPv6 addresses, or "PROXY UNKNOWN" followed by anything printable up to
 *    CRLF. Single spaces, ports 0..65535 in decimal without leading zeros,
 *    addresses as inet_pton() reads them, the whole line at most 107 bytes
 *    including CRLF, no control characters.
 *  - v2: the 12-byte signature, version 2, command LOCAL or PROXY; for PROXY
 *    the family/transport INET/STREAM, INET6/STREAM or UNSPEC/(UNSPEC|STREAM);
 *    for LOCAL any family byte (the spec says to ignore it). The length field
 *    is at most PROXY_V2_MAX_LEN. For INET/INET6 the address block must fit
 *    in it and the rest must be well-formed TLVs (type, 16-bit length,
 *    value), which are skipped; for LOCAL and UNSPEC the whole block is
 *    skipped unread.
 *  - local (v1 UNKNOWN, v2 LOCAL, v2 PROXY UNSPEC): keep the socket's own
 *    addresses; family is AF_UNSPEC and src/dst are zeroed.
 */
#ifndef CPM_FRONTEND_PROXY_PROTO_H
#define CPM_FRONTEND_PROXY_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define PROXY_V1 1u
#define PROXY_V2 2u

#define PROXY_V1_MAX_LINE 107   /* including CRLF */
#define PROXY_V2_HEADER_LEN 16  /* signature, ver/cmd, fam, length */
#define PROXY_V2_MAX_LEN 4096   /* largest accepted value of the length field */
#define PROXY_MAX_HEADER (PROXY_V2_HEADER_LEN + PROXY_V2_MAX_LEN)

enum proxy_result { PROXY_NEED_MORE, PROXY_DONE, PROXY_ERROR };

struct proxy_info {
	bool local;                   /* use the socket's addresses */
	int version;                  /* 1 or 2 */
	int family;                   /* AF_INET, AF_INET6 or AF_UNSPEC (local) */
	struct sockaddr_storage src;  /* sockaddr_in / sockaddr_in6 with port */
	struct sockaddr_storage dst;
};

enum proxy_result proxy_parse(const unsigned char *data, size_t len, unsigned accept, struct proxy_info *info_r,
			      size_t *consumed_r, const char **err_r);

#endif
