/*
 * proxy-proto: PROXY protocol v1/v2 header parser. See proxy-proto.h.
 *
 * The load balancer prepends one header to each connection. The two versions
 * differ from their first byte ('P' for the text line, CR for the binary
 * signature), so one look decides which parser runs.
 *
 * Both parsers are written to answer on any prefix: each field is checked
 * as far as it has arrived, with a "partial" flag telling the validator that
 * the field may still grow. That is what lets proxy_parse say ERROR on the
 * first impossible byte instead of waiting for a CRLF or a full length that
 * a hostile peer may never send, while a byte-by-byte arrival of a valid
 * header only ever sees NEED_MORE.
 */
#include "proxy-proto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

static const unsigned char v1_sig[6] = {'P', 'R', 'O', 'X', 'Y', ' '};
static const unsigned char v2_sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

#define V4_TEXT_MAX 15  /* 255.255.255.255 */
#define V6_TEXT_MAX 45  /* INET6_ADDRSTRLEN - 1 */

static enum proxy_result fail(const char **err_r, const char *why)
{
	if (err_r != NULL)
		*err_r = why;
	return PROXY_ERROR;
}

/* Is s[0..n) (a prefix of) a word in the given list? exact: must be whole. */
static bool is_word(const unsigned char *s, size_t n, const char *word, bool partial)
{
	size_t wn = strlen(word);
	if (n > wn || (!partial && n != wn))
		return false;
	return memcmp(s, word, n) == 0;
}

/* Dotted quad, four decimal octets 0..255 without leading zeros (what
   glibc's inet_pton accepts). partial: may be the start of one. */
static bool v4_ok(const unsigned char *s, size_t n, bool partial)
{
	if (n > V4_TEXT_MAX)
		return false;
	unsigned groups = 1, digits = 0, val = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		if (c == '.') {
			if (digits == 0 || groups == 4)
				return false;
			groups++;
			digits = 0;
			val = 0;
		} else if (c >= '0' && c <= '9') {
			if (digits == 1 && val == 0)
				return false; /* leading zero */
			val = val * 10 + (unsigned)(c - '0');
			if (++digits > 3 || val > 255)
				return false;
		} else {
			return false;
		}
	}
	return partial || (groups == 4 && digits > 0);
}

/* IPv6 text: checked by character set and length here, by inet_pton when whole. */
static bool v6_ok(const unsigned char *s, size_t n, bool partial)
{
	if (n > V6_TEXT_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
		if (!hex && c != ':' && c != '.')
			return false;
	}
	if (partial)
		return true;
	char tmp[V6_TEXT_MAX + 1];
	struct in6_addr a;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return n > 0 && inet_pton(AF_INET6, tmp, &a) == 1;
}

/* Decimal port 0..65535 without leading zeros. */
static bool port_ok(const unsigned char *s, size_t n, bool partial, unsigned *port_r)
{
	if (n == 0)
		return partial;
	if (n > 5 || (n > 1 && s[0] == '0'))
		return false;
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*port_r = v;
	return true;
}

static void fill_v4(struct sockaddr_storage *ss, const void *addr4, unsigned port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	memcpy(&sin->sin_addr, addr4, 4);
	sin->sin_port = htons((uint16_t)port);
}

static void fill_v6(struct sockaddr_storage *ss, const void *addr16, unsigned port)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	memset(ss, 0, sizeof(*ss));
	sin6->sin6_family = AF_INET6;
	memcpy(&sin6->sin6_addr, addr16, 16);
	sin6->sin6_port = htons((uint16_t)port);
}

static void set_local(struct proxy_info *info, int version)
{
	memset(info, 0, sizeof(*info));
	info->local = true;
	info->version = version;
	info->family = AF_UNSPEC;
}

/* ---- v1 ------------------------------------------------------------------ */

enum v1_proto { V1_TCP4, V1_TCP6, V1_UNKNOWN };

static enum proxy_result parse_v1(const unsigned char *data, size_t len, struct proxy_info *info_r,
				  size_t *consumed_r, const char **err_r)
{
	size_t sig = len < sizeof(v1_sig) ? len : sizeof(v1_sig);
	if (memcmp(data, v1_sig, sig) != 0)
		return fail(err_r, "not a PROXY v1 header");
	if (len < sizeof(v1_sig))
		return PROXY_NEED_MORE;

	/* Find the end of the line within the limit; only printable bytes before it. */
	size_t end = len;
	bool cr_seen = false, complete = false;
	size_t lim = len < PROXY_V1_MAX_LINE ? len : PROXY_V1_MAX_LINE;
	for (size_t i = 0; i < lim; i++) {
		unsigned char c = data[i];
		if (c == '\r') {
			if (i + 2 > PROXY_V1_MAX_LINE)
				return fail(err_r, "PROXY v1 line too long");
			end = i;
			cr_seen = true;
			if (i + 1 < len) {
				if (data[i + 1] != '\n')
					return fail(err_r, "PROXY v1 CR without LF");
				complete = true;
			}
			break;
		}
		if (c < 0x20 || c > 0x7e)
			return fail(err_r, "PROXY v1 control or non-ASCII byte");
	}
	if (!cr_seen && len >= PROXY_V1_MAX_LINE)
		return fail(err_r, "PROXY v1 line too long");

	/* Fields after "PROXY ": proto src dst sport dport, single spaces. */
	enum v1_proto proto = V1_UNKNOWN;
	unsigned char a_src[16], a_dst[16];
	unsigned ports[2] = {0, 0};
	size_t pos = sizeof(v1_sig);
	for (int field = 1;; field++) {
		size_t start = pos;
		while (pos < end && data[pos] != ' ')
			pos++;
		const unsigned char *t = data + start;
		size_t n = pos - start;
		bool partial = pos == end && !cr_seen; /* this field may still grow */
		if (n == 0 && !partial)
			return fail(err_r, "PROXY v1 empty field");
		switch (field) {
		case 1:
			if (partial) {
				if (!is_word(t, n, "TCP4", true) && !is_word(t, n, "TCP6", true) &&
				    !is_word(t, n, "UNKNOWN", true))
					return fail(err_r, "PROXY v1 unknown protocol");
				return PROXY_NEED_MORE;
			}
			if (is_word(t, n, "TCP4", false))
				proto = V1_TCP4;
			else if (is_word(t, n, "TCP6", false))
				proto = V1_TCP6;
			else if (is_word(t, n, "UNKNOWN", false))
				proto = V1_UNKNOWN;
			else
				return fail(err_r, "PROXY v1 unknown protocol");
			if (proto == V1_UNKNOWN) {
				/* anything printable may follow (ignored) up to CRLF */
				if (!complete)
					return PROXY_NEED_MORE;
				if (info_r != NULL)
					set_local(info_r, 1);
				if (consumed_r != NULL)
					*consumed_r = end + 2;
				return PROXY_DONE;
			}
			break;
		case 2:
		case 3: {
			bool ok = proto == V1_TCP4 ? v4_ok(t, n, partial) : v6_ok(t, n, partial);
			if (!ok)
				return fail(err_r, field == 2 ? "PROXY v1 bad source address"
							      : "PROXY v1 bad destination address");
			if (partial)
				return PROXY_NEED_MORE;
			char tmp[V6_TEXT_MAX + 1];
			memcpy(tmp, t, n);
			tmp[n] = '\0';
			if (inet_pton(proto == V1_TCP4 ? AF_INET : AF_INET6, tmp, field == 2 ? a_src : a_dst) != 1)
				return fail(err_r, "PROXY v1 bad address");
			break;
		}
		case 4:
		case 5:
			if (!port_ok(t, n, partial, &ports[field - 4]))
				return fail(err_r, field == 4 ? "PROXY v1 bad source port" : "PROXY v1 bad destination port");
			if (partial)
				return PROXY_NEED_MORE;
			break;
		default:
			return fail(err_r, "PROXY v1 extra field");
		}
		if (pos == end) {
			if (field < 5)
				return fail(err_r, "PROXY v1 missing field");
			break; /* all five fields */
		}
		pos++; /* the space */
		if (field == 5)
			return fail(err_r, "PROXY v1 extra field");
	}
	if (!complete)
		return PROXY_NEED_MORE; /* CR seen, LF to come */
	if (info_r != NULL) {
		memset(info_r, 0, sizeof(*info_r));
		info_r->version = 1;
		if (proto == V1_TCP4) {
			info_r->family = AF_INET;
			fill_v4(&info_r->src, a_src, ports[0]);
			fill_v4(&info_r->dst, a_dst, ports[1]);
		} else {
			info_r->family = AF_INET6;
			fill_v6(&info_r->src, a_src, ports[0]);
			fill_v6(&info_r->dst, a_dst, ports[1]);
		}
	}
	if (consumed_r != NULL)
		*consumed_r = end + 2;
	return PROXY_DONE;
}

/* ---- v2 ------------------------------------------------------------------ */

#define V2_CMD_LOCAL 0x0
#define V2_CMD_PROXY 0x1
#define V2_FAM_UNSPEC 0x00
#define V2_FAM_UNSPEC_STREAM 0x01
#define V2_FAM_INET_STREAM 0x11
#define V2_FAM_INET6_STREAM 0x21

static enum proxy_result parse_v2(const unsigned char *data, size_t len, struct proxy_info *info_r,
				  size_t *consumed_r, const char **err_r)
{
	size_t sig = len < sizeof(v2_sig) ? len : sizeof(v2_sig);
	if (memcmp(data, v2_sig, sig) != 0)
		return fail(err_r, "not a PROXY v2 header");
	if (len < 13)
		return PROXY_NEED_MORE;
	unsigned ver = data[12] >> 4, cmd = data[12] & 0x0f;
	if (ver != 2)
		return fail(err_r, "PROXY v2 bad version");
	if (cmd != V2_CMD_LOCAL && cmd != V2_CMD_PROXY)
		return fail(err_r, "PROXY v2 bad command");
	if (len < 14)
		return PROXY_NEED_MORE;
	unsigned fam = data[13];
	size_t addr_len = 0;
	bool skip_all = cmd == V2_CMD_LOCAL; /* LOCAL: ignore the family and the whole block */
	if (cmd == V2_CMD_PROXY) {
		switch (fam) {
		case V2_FAM_UNSPEC:
		case V2_FAM_UNSPEC_STREAM:
			skip_all = true;
			break;
		case V2_FAM_INET_STREAM:
			addr_len = 12;
			break;
		case V2_FAM_INET6_STREAM:
			addr_len = 36;
			break;
		default:
			if ((fam & 0x0f) != 0x1)
				return fail(err_r, "PROXY v2 transport is not STREAM");
			return fail(err_r, "PROXY v2 unsupported address family");
		}
	}
	if (len < PROXY_V2_HEADER_LEN)
		return PROXY_NEED_MORE;
	size_t block = (size_t)data[14] << 8 | data[15];
	if (block > PROXY_V2_MAX_LEN)
		return fail(err_r, "PROXY v2 header too long");
	if (block < addr_len)
		return fail(err_r, "PROXY v2 length too short for the addresses");
	size_t total = PROXY_V2_HEADER_LEN + block;
	if (!skip_all) {
		/* TLVs: type(1) length(2) value, exactly filling the block; checked
		   as far as they have arrived. */
		size_t have = len < total ? len : total;
		size_t pos = PROXY_V2_HEADER_LEN + addr_len;
		while (pos < total) {
			if (total - pos < 3)
				return fail(err_r, "PROXY v2 truncated TLV");
			if (pos + 3 > have)
				break; /* this TLV's header has not arrived yet */
			size_t tlen = (size_t)data[pos + 1] << 8 | data[pos + 2];
			if (tlen > total - pos - 3)
				return fail(err_r, "PROXY v2 TLV overruns the header");
			pos += 3 + tlen;
		}
	}
	if (len < total)
		return PROXY_NEED_MORE;
	if (info_r != NULL) {
		if (skip_all) {
			set_local(info_r, 2);
		} else {
			memset(info_r, 0, sizeof(*info_r));
			info_r->version = 2;
			const unsigned char *a = data + PROXY_V2_HEADER_LEN;
			if (fam == V2_FAM_INET_STREAM) {
				info_r->family = AF_INET;
				fill_v4(&info_r->src, a, (unsigned)a[8] << 8 | a[9]);
				fill_v4(&info_r->dst, a + 4, (unsigned)a[10] << 8 | a[11]);
			} else {
				info_r->family = AF_INET6;
				fill_v6(&info_r->src, a, (unsigned)a[32] << 8 | a[33]);
				fill_v6(&info_r->dst, a + 16, (unsigned)a[34] << 8 | a[35]);
			}
		}
	}
	if (consumed_r != NULL)
		*consumed_r = total;
	return PROXY_DONE;
}

enum proxy_result proxy_parse(const unsigned char *data, size_t len, unsigned accept, struct proxy_info *info_r,
			      size_t *consumed_r, const char **err_r)
{
	if (consumed_r != NULL)
		*consumed_r = 0;
	if ((accept & (PROXY_V1 | PROXY_V2)) == 0)
		return fail(err_r, "no PROXY protocol version accepted");
	if (len == 0)
		return PROXY_NEED_MORE;
	if (data[0] == v1_sig[0]) {
		if ((accept & PROXY_V1) == 0)
			return fail(err_r, "PROXY v1 not accepted");
		return parse_v1(data, len, info_r, consumed_r, err_r);
	}
	if (data[0] == v2_sig[0]) {
		if ((accept & PROXY_V2) == 0)
			return fail(err_r, "PROXY v2 not accepted");
		return parse_v2(data, len, info_r, consumed_r, err_r);
	}
	return fail(err_r, "no PROXY protocol header");
}
