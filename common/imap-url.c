/*
 * imap-url: RFC 5092 IMAP URL parser. See imap-url.h for the contract.
 *
 * How it reads a URL
 * ------------------
 *   imap://[user[;AUTH=type]@]host[:port]   the server (absolute URLs and "//" network paths)
 *   /mailbox[;UIDVALIDITY=n]                 the mailbox part: everything up to the
 *                                            first "/;" (or a leading ';')
 *   [?search]                                a message list's search, after the first '?'
 *   /;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]    the message part: segments that start
 *                                            with ';', separated by "/;"
 *   [;EXPIRE=t];URLAUTH=access[:mech:token]  URLAUTH, glued to the last segment
 *
 * Splitting the message part at "/;" rather than at every '/' keeps a '/'
 * inside a section (a header field name may hold one) in the section.
 * Each component is checked against its RFC 5092 character class before
 * its %-escapes are decoded, so an escaped delimiter is data, never syntax.
 *
 * A relative reference is resolved against the base as a structure (not
 * by string merging): the base mailbox acts as a directory for a relative
 * mailbox path, which is how Dovecot resolves CATENATE and URLFETCH URLs.
 */
#include "imap-url.h"

#include "civil-date.h"

#include "hex.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "imap-utf7.h"

/* ---- character classes (RFC 5092 section 11, RFC 3986) -------------------- */

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_unreserved(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* sub-delims-sh: RFC 3986 sub-delims without ';', '&' and '='. */
static bool is_sub_delim_sh(unsigned char c)
{
	return c != '\0' && strchr("!$'()*+,", c) != NULL;
}

/* achar = uchar / "&" / "=" / "~" (uchar = unreserved / pct-encoded / sub-delims-sh) */
static bool is_achar(unsigned char c)
{
	return is_unreserved(c) || is_sub_delim_sh(c) || c == '&' || c == '=';
}

/* bchar = achar / ":" / "@" / "/" */
static bool is_bchar(unsigned char c)
{
	return is_achar(c) || c == ':' || c == '@' || c == '/';
}

/* RFC 3986 reg-name: unreserved / pct-encoded / sub-delims */
static bool is_regname_char(unsigned char c)
{
	return is_unreserved(c) || (c != '\0' && strchr("!$&'()*+,;=", c) != NULL);
}

/* ---- helpers -------------------------------------------------------------------- */

struct span {
	const char *p;
	size_t n;
};

static bool span_eq_ci(struct span s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n == n && strncasecmp(s.p, lit, n) == 0;
}

static bool has_prefix_ci(const char *p, size_t n, const char *lit)
{
	size_t k = strlen(lit);
	return n >= k && strncasecmp(p, lit, k) == 0;
}

/* Checks s against a class (plus %XX escapes). */
static bool valid_chars(struct span s, bool (*ok)(unsigned char))
{
	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c == '%') {
			if (i + 2 >= s.n)
				return false;
			if (hex_digit((unsigned char)s.p[i + 1]) < 0 || hex_digit((unsigned char)s.p[i + 2]) < 0)
				return false;
			i += 2;
		} else if (!ok(c)) {
			return false;
		}
	}
	return true;
}

/* Appends s with %XX decoded (s already checked by valid_chars). */
static int pct_decode(struct buf *out, struct span s)
{
	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c == '%') {
			c = (unsigned char)(hex_digit((unsigned char)s.p[i + 1]) * 16 +
					    hex_digit((unsigned char)s.p[i + 2]));
			i += 2;
		}
		if (buf_append_byte(out, c) < 0)
			return -1;
	}
	return 0;
}

/* A malloc'd decoded copy; *err_r set on failure. */
static char *decode_str(struct span s, bool (*ok)(unsigned char), bool allow_nul, const char *what,
			const char **err_r)
{
	if (!valid_chars(s, ok)) {
		*err_r = what;
		return NULL;
	}
	struct buf b = {0};
	if (pct_decode(&b, s) < 0 || buf_reserve(&b, 0) < 0) {
		buf_free(&b);
		*err_r = "Out of memory";
		return NULL;
	}
	if (!allow_nul && memchr(b.data, '\0', b.len) != NULL) {
		buf_free(&b);
		*err_r = what;
		return NULL;
	}
	return (char *)buf_steal(&b, NULL);
}

static char *dup_or_null(const char *s, bool *oom)
{
	if (s == NULL)
		return NULL;
	char *d = strdup(s);
	if (d == NULL)
		*oom = true;
	return d;
}

/* RFC 3501 number (1*DIGIT) in 32 bits; nz: nz-number (no leading zero, > 0). */
static int parse_u32(struct span s, bool nz, uint32_t *v_r)
{
	if (s.n == 0 || (nz && s.p[0] == '0'))
		return -1;
	uint64_t v = 0;
	for (size_t i = 0; i < s.n; i++) {
		if (!is_digit((unsigned char)s.p[i]))
			return -1;
		v = v * 10 + (uint64_t)(s.p[i] - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	*v_r = (uint32_t)v;
	return 0;
}

/* Fixed-width decimal field. */
static int digits(const char *p, size_t n, int *v_r)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit((unsigned char)p[i]))
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	*v_r = v;
	return 0;
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm). */
static int parse_datetime(struct span s, int64_t *t_r)
{
	const char *p = s.p;
	size_t n = s.n;
	int y, mo, d, h, mi, se;
	if (n < 20 || digits(p, 4, &y) < 0 || p[4] != '-' || digits(p + 5, 2, &mo) < 0 || p[7] != '-' ||
	    digits(p + 8, 2, &d) < 0 || (p[10] != 'T' && p[10] != 't') || digits(p + 11, 2, &h) < 0 ||
	    p[13] != ':' || digits(p + 14, 2, &mi) < 0 || p[16] != ':' || digits(p + 17, 2, &se) < 0)
		return -1;
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap(y)) || h > 23 || mi > 59 || se > 60)
		return -1;
	size_t i = 19;
	if (p[i] == '.') {
		i++;
		size_t f = i;
		while (i < n && is_digit((unsigned char)p[i]))
			i++;
		if (i == f)
			return -1;
	}
	int off = 0;
	if (i < n && (p[i] == 'Z' || p[i] == 'z')) {
		i++;
	} else if (i + 6 == n && (p[i] == '+' || p[i] == '-')) {
		int oh, om;
		if (digits(p + i + 1, 2, &oh) < 0 || p[i + 3] != ':' || digits(p + i + 4, 2, &om) < 0 || oh > 23 ||
		    om > 59)
			return -1;
		off = (oh * 60 + om) * (p[i] == '-' ? -1 : 1);
		i += 6;
	} else {
		return -1;
	}
	if (i != n)
		return -1;
	*t_r = civil_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + (se > 59 ? 59 : se) - (int64_t)off * 60;
	return 0;
}

/* ---- the server part ------------------------------------------------------------ */

/* iserver = [iuserinfo "@"] host [":" port] */
static const char *parse_server(struct span a, struct imap_url *u)
{
	const char *err = NULL;
	const char *at = memchr(a.p, '@', a.n);
	struct span hostport = a;
	if (at != NULL) {
		struct span ui = {a.p, (size_t)(at - a.p)};
		hostport.p = at + 1;
		hostport.n = a.n - ui.n - 1;
		/* iuserinfo = enc-user [iauth] / [enc-user] iauth; iauth = ";AUTH=" ( "*" / enc-auth-type ) */
		const char *semi = memchr(ui.p, ';', ui.n);
		struct span user = {ui.p, semi ? (size_t)(semi - ui.p) : ui.n};
		if (semi != NULL) {
			struct span auth = {semi, ui.n - user.n};
			if (!has_prefix_ci(auth.p, auth.n, ";AUTH=") || auth.n == 6)
				return "Invalid ;AUTH= in the user information";
			struct span type = {auth.p + 6, auth.n - 6};
			if (type.n == 1 && type.p[0] == '*')
				u->auth_type = strdup("*");
			else
				u->auth_type = decode_str(type, is_achar, false, "Invalid ;AUTH= mechanism", &err);
			if (u->auth_type == NULL)
				return err ? err : "Out of memory";
		} else if (user.n == 0) {
			return "Empty user name";
		}
		if (user.n > 0 && (u->user = decode_str(user, is_achar, false, "Invalid user name", &err)) == NULL)
			return err;
	}
	/* host [":" port]; an IP literal is bracketed */
	struct span host = hostport;
	struct span port = {NULL, 0};
	bool have_port = false;
	if (host.n > 0 && host.p[0] == '[') {
		const char *close = memchr(host.p, ']', host.n);
		if (close == NULL)
			return "Invalid IP literal host";
		size_t hl = (size_t)(close - host.p) + 1;
		for (size_t i = 1; i + 1 < hl; i++) {
			unsigned char c = (unsigned char)host.p[i];
			if (hex_digit(c) < 0 && c != ':' && c != '.' && c != 'v' && c != 'V')
				return "Invalid IP literal host";
		}
		if (hl == 2)
			return "Invalid IP literal host";
		if (hl < host.n) {
			if (host.p[hl] != ':')
				return "Invalid host";
			port.p = host.p + hl + 1;
			port.n = host.n - hl - 1;
			have_port = true;
		}
		host.n = hl;
		if ((u->host = strndup(host.p, host.n)) == NULL)
			return "Out of memory";
	} else {
		const char *colon = memchr(host.p, ':', host.n);
		if (colon != NULL) {
			port.p = colon + 1;
			port.n = host.n - (size_t)(colon - host.p) - 1;
			host.n = (size_t)(colon - host.p);
			have_port = true;
		}
		if (host.n == 0)
			return "Empty host name";
		if ((u->host = decode_str(host, is_regname_char, false, "Invalid host name", &err)) == NULL)
			return err;
		for (char *c = u->host; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		for (const char *c = u->host; *c; c++)
			if ((unsigned char)*c < 0x21 || (unsigned char)*c == 0x7f)
				return "Invalid host name";
	}
	if (have_port && port.n > 0) {
		uint32_t v;
		if (parse_u32(port, false, &v) < 0 || v > 65535)
			return "Invalid port";
		u->port = v;
	}
	return NULL;
}

/* ---- the mailbox ---------------------------------------------------------------- */

/* Resolves a raw (still encoded) mailbox path onto out: each segment is
 * decoded and appended; "." is dropped and ".." removes the last segment.
 * out may start with the base mailbox (relative references). */
static const char *append_mailbox_path(struct buf *out, struct span raw)
{
	if (!valid_chars(raw, is_bchar))
		return "Invalid character in the mailbox name";
	size_t i = 0;
	while (i <= raw.n) {
		const char *slash = memchr(raw.p + i, '/', raw.n - i);
		size_t end = slash ? (size_t)(slash - raw.p) : raw.n;
		struct span seg = {raw.p + i, end - i};
		if (seg.n == 0) {
			return "Empty mailbox name segment";
		} else if (span_eq_ci(seg, ".")) {
			/* nothing */
		} else if (span_eq_ci(seg, "..")) {
			unsigned char *last = out->len ? memrchr(out->data, '/', out->len) : NULL;
			buf_truncate(out, last ? (size_t)(last - out->data) : 0);
		} else {
			if (out->len > 0 && buf_append_byte(out, '/') < 0)
				return "Out of memory";
			if (pct_decode(out, seg) < 0)
				return "Out of memory";
		}
		if (slash == NULL)
			break;
		i = end + 1;
	}
	return NULL;
}

/* Checks the resolved name and stores it in u->mailbox. */
static const char *set_mailbox(struct buf *name, struct imap_url *u)
{
	if (name->len == 0)
		return "Empty mailbox name";
	if (memchr(name->data, '\0', name->len) != NULL)
		return "Mailbox name is not valid UTF-8";
	struct buf check = {0};
	int rc = imap_utf8_to_mutf7((const char *)name->data, name->len, &check);
	buf_free(&check);
	if (rc < 0)
		return "Mailbox name is not valid UTF-8";
	u->mailbox = (char *)buf_steal(name, NULL);
	return u->mailbox ? NULL : "Out of memory";
}

/* ---- the message part ------------------------------------------------------------ */

/* [";EXPIRE=" date-time] ";URLAUTH=" access [":" mechanism ":" token];
 * s starts at the ';'; pos is s's offset in the whole input. */
static const char *parse_urlauth(struct span s, size_t pos, struct imap_url *u)
{
	const char *err = NULL;
	if (has_prefix_ci(s.p, s.n, ";EXPIRE=")) {
		const char *semi = memchr(s.p + 1, ';', s.n - 1);
		if (semi == NULL)
			return ";EXPIRE= without ;URLAUTH=";
		struct span t = {s.p + 8, (size_t)(semi - s.p) - 8};
		if (parse_datetime(t, &u->expire) < 0)
			return "Invalid ;EXPIRE= date-time";
		u->have_expire = true;
		pos += (size_t)(semi - s.p);
		s.n -= (size_t)(semi - s.p);
		s.p = semi;
	}
	if (!has_prefix_ci(s.p, s.n, ";URLAUTH="))
		return "Unknown parameter after the message part";
	struct span rest = {s.p + 9, s.n - 9};
	pos += 9;
	const char *colon = memchr(rest.p, ':', rest.n);
	struct span access = {rest.p, colon ? (size_t)(colon - rest.p) : rest.n};
	if (has_prefix_ci(access.p, access.n, "submit+") || has_prefix_ci(access.p, access.n, "user+")) {
		bool submit = has_prefix_ci(access.p, access.n, "submit+");
		size_t k = submit ? 7 : 5;
		struct span who = {access.p + k, access.n - k};
		if (who.n == 0)
			return "Empty user in the URLAUTH access identifier";
		if ((u->access_user = decode_str(who, is_achar, false, "Invalid URLAUTH access identifier", &err)) ==
		    NULL)
			return err;
		u->access = submit ? IMAP_URL_ACCESS_SUBMIT : IMAP_URL_ACCESS_USER;
	} else if (span_eq_ci(access, "authuser")) {
		u->access = IMAP_URL_ACCESS_AUTHUSER;
	} else if (span_eq_ci(access, "anonymous")) {
		u->access = IMAP_URL_ACCESS_ANONYMOUS;
	} else {
		return "Invalid URLAUTH access identifier";
	}
	if (colon == NULL) {
		u->rump_len = pos + rest.n;
		return NULL; /* a rump (RFC 4467 GENURLAUTH input) */
	}
	u->rump_len = pos + access.n;
	struct span tail = {colon + 1, rest.n - access.n - 1};
	const char *colon2 = memchr(tail.p, ':', tail.n);
	if (colon2 == NULL)
		return "Missing URLAUTH token";
	struct span mech = {tail.p, (size_t)(colon2 - tail.p)};
	struct span token = {colon2 + 1, tail.n - mech.n - 1};
	if (mech.n == 0)
		return "Empty URLAUTH mechanism";
	for (size_t i = 0; i < mech.n; i++) {
		unsigned char c = (unsigned char)mech.p[i];
		if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '.')
			return "Invalid URLAUTH mechanism";
	}
	if (token.n < 32)
		return "URLAUTH token too short";
	for (size_t i = 0; i < token.n; i++)
		if (hex_digit((unsigned char)token.p[i]) < 0)
			return "Invalid URLAUTH token";
	u->mechanism = strndup(mech.p, mech.n);
	u->token = strndup(token.p, token.n);
	if (u->mechanism == NULL || u->token == NULL)
		return "Out of memory";
	for (char *c = u->mechanism; *c; c++)
		if (*c >= 'a' && *c <= 'z')
			*c = (char)(*c - 'a' + 'A');
	return NULL;
}

enum msg_param { P_UID, P_SECTION, P_PARTIAL };

/* The message part: ";UID=..." [ "/;SECTION=..." ] [ "/;PARTIAL=..." ] plus
 * URLAUTH, starting at s.p[0] == ';'. first: the earliest parameter this
 * reference may start with (a relative ";SECTION=" keeps the base's UID).
 * pos is s's offset in the whole input. */
static const char *parse_message_part(struct span s, size_t pos, enum msg_param first, struct imap_url *u)
{
	const char *err = NULL;
	int next = first; /* the lowest parameter still allowed */
	size_t i = 0;
	while (i < s.n) {
		/* one segment: s[i .. end), ending at the next "/;" */
		size_t end = i + 1;
		while (end < s.n && !(s.p[end] == '/' && end + 1 < s.n && s.p[end + 1] == ';'))
			end++;
		struct span seg = {s.p + i, end - i};
		const char *eq = memchr(seg.p, '=', seg.n);
		if (seg.n < 2 || seg.p[0] != ';' || eq == NULL)
			return "Invalid message part segment";
		struct span name = {seg.p + 1, (size_t)(eq - seg.p) - 1};
		struct span value = {eq + 1, seg.n - name.n - 2};
		const char *semi = memchr(value.p, ';', value.n);
		struct span auth = {NULL, 0};
		if (semi != NULL) {
			if (end != s.n)
				return "URLAUTH must end the URL";
			auth.p = semi;
			auth.n = value.n - (size_t)(semi - value.p);
			value.n = (size_t)(semi - value.p);
		}
		int which = span_eq_ci(name, "UID") ? P_UID : span_eq_ci(name, "SECTION") ? P_SECTION
			    : span_eq_ci(name, "PARTIAL")                                ? P_PARTIAL
											 : -1;
		if (which < 0)
			return "Unknown parameter in the message part";
		if (i == 0 ? which != (int)first : which < next)
			return which == P_UID || i > 0 ? "Message part parameters out of order" : "Missing ;UID=";
		next = which + 1;
		switch (which) {
		case P_UID:
			if (parse_u32(value, true, &u->uid) < 0)
				return "Invalid ;UID= (a non-zero 32-bit number)";
			break;
		case P_SECTION:
			if (value.n == 0)
				return "Empty ;SECTION=";
			free(u->section);
			u->section = decode_str(value, is_bchar, false, "Invalid character in ;SECTION=", &err);
			if (u->section == NULL)
				return err;
			break;
		case P_PARTIAL: {
			const char *dot = memchr(value.p, '.', value.n);
			struct span off = {value.p, dot ? (size_t)(dot - value.p) : value.n};
			if (parse_u32(off, false, &u->partial_offset) < 0)
				return "Invalid ;PARTIAL= offset";
			u->partial_length = 0;
			if (dot != NULL) {
				struct span len = {dot + 1, value.n - off.n - 1};
				if (parse_u32(len, true, &u->partial_length) < 0)
					return "Invalid ;PARTIAL= length (a non-zero 32-bit number)";
			}
			u->have_partial = true;
			break;
		}
		}
		if (auth.p != NULL)
			return parse_urlauth(auth, pos + (size_t)(auth.p - s.p), u);
		i = end + 1;
	}
	return NULL;
}

/* ---- paths -------------------------------------------------------------------------- */

/* The path after the server (absolute: after its '/'), or a relative
 * path. base_mailbox: the directory a relative mailbox path starts in
 * (NULL for an absolute path). pos: offset of path in the input. */
static const char *parse_path(struct span path, size_t pos, bool relative, const struct imap_url *base,
			      struct imap_url *u)
{
	const char *err = NULL;
	/* the search of a message list */
	const char *q = memchr(path.p, '?', path.n);
	struct span search = {NULL, 0};
	if (q != NULL) {
		search.p = q + 1;
		search.n = path.n - (size_t)(q - path.p) - 1;
		path.n = (size_t)(q - path.p);
		if (search.n == 0)
			return "Empty search program";
		if ((u->search = decode_str(search, is_bchar, false, "Invalid character in the search program",
					    &err)) == NULL)
			return err;
	}
	/* split the mailbox part from the message part at the first "/;" */
	size_t mpos = path.n;
	if (path.n > 0 && path.p[0] == ';') {
		mpos = 0;
	} else {
		for (size_t i = 0; i + 1 < path.n; i++) {
			if (path.p[i] == '/' && path.p[i + 1] == ';') {
				mpos = i;
				break;
			}
		}
	}
	struct span mbox = {path.p, mpos};
	struct span msg = {path.p + mpos, path.n - mpos};
	if (msg.n > 0 && msg.p[0] == '/') {
		msg.p++;
		msg.n--;
	}
	if (msg.n > 0 && u->search != NULL)
		return "A search program cannot name a message";
	/* ";UIDVALIDITY=" ends the mailbox part */
	const char *semi = memchr(mbox.p, ';', mbox.n);
	if (semi != NULL) {
		struct span uv = {semi, mbox.n - (size_t)(semi - mbox.p)};
		mbox.n = (size_t)(semi - mbox.p);
		if (!has_prefix_ci(uv.p, uv.n, ";UIDVALIDITY="))
			return "Unknown parameter after the mailbox name";
		struct span num = {uv.p + 13, uv.n - 13};
		if (parse_u32(num, true, &u->uidvalidity) < 0)
			return "Invalid ;UIDVALIDITY= (a non-zero 32-bit number)";
		if (mbox.n == 0)
			return ";UIDVALIDITY= without a mailbox name";
	}

	if (mbox.n > 0) {
		struct buf name = {0};
		if (relative && base != NULL && base->mailbox != NULL && buf_append_str(&name, base->mailbox) < 0)
			err = "Out of memory";
		if (err == NULL)
			err = append_mailbox_path(&name, mbox);
		if (err == NULL)
			err = set_mailbox(&name, u);
		buf_free(&name);
		if (err != NULL)
			return err;
		if (msg.n > 0)
			return parse_message_part(msg, pos + (size_t)(msg.p - path.p), P_UID, u);
		return NULL;
	}
	if (msg.n == 0 && u->search != NULL) {
		/* "?search" alone: a search of the base mailbox */
		if (!relative || base == NULL || base->mailbox == NULL)
			return "A search program needs a mailbox";
		u->uidvalidity = base->uidvalidity;
		return (u->mailbox = strdup(base->mailbox)) == NULL ? "Out of memory" : NULL;
	}
	if (msg.n == 0)
		return NULL;
	if (!relative)
		return "Missing mailbox name";
	/* ";UID=" / ";SECTION=" / ";PARTIAL=" relative to the base */
	if (base == NULL || base->mailbox == NULL)
		return "Mailbox-relative URL without a base mailbox";
	bool oom = false;
	u->mailbox = dup_or_null(base->mailbox, &oom);
	u->uidvalidity = base->uidvalidity;
	enum msg_param first = P_UID;
	if (has_prefix_ci(msg.p, msg.n, ";SECTION=") || has_prefix_ci(msg.p, msg.n, ";PARTIAL=")) {
		if (base->uid == 0)
			return "Message-relative URL without a base message";
		u->uid = base->uid;
		first = P_SECTION;
		if (has_prefix_ci(msg.p, msg.n, ";PARTIAL=")) {
			first = P_PARTIAL;
			u->section = dup_or_null(base->section, &oom);
		}
	}
	if (oom)
		return "Out of memory";
	return parse_message_part(msg, pos + (size_t)(msg.p - path.p), first, u);
}

/* Copies base's server into u. */
static const char *inherit_server(const struct imap_url *base, struct imap_url *u)
{
	bool oom = false;
	u->user = dup_or_null(base->user, &oom);
	u->auth_type = dup_or_null(base->auth_type, &oom);
	u->host = dup_or_null(base->host, &oom);
	u->port = base->port;
	return oom ? "Out of memory" : NULL;
}

/* Copies the whole base (an empty reference). */
static const char *copy_url(const struct imap_url *base, struct imap_url *u)
{
	const char *err = inherit_server(base, u);
	bool oom = false;
	u->mailbox = dup_or_null(base->mailbox, &oom);
	u->uidvalidity = base->uidvalidity;
	u->search = dup_or_null(base->search, &oom);
	u->uid = base->uid;
	u->section = dup_or_null(base->section, &oom);
	u->have_partial = base->have_partial;
	u->partial_offset = base->partial_offset;
	u->partial_length = base->partial_length;
	return err ? err : oom ? "Out of memory" : NULL;
}

/* "//" iserver ipath-query, s after the "//"; pos its offset in the input. */
static const char *parse_network_path(struct span s, size_t pos, struct imap_url *u)
{
	size_t a = 0;
	while (a < s.n && s.p[a] != '/' && s.p[a] != '?')
		a++;
	struct span authority = {s.p, a};
	if (authority.n == 0)
		return "Empty host name";
	const char *err = parse_server(authority, u);
	if (err != NULL)
		return err;
	if (a == s.n)
		return NULL;
	if (s.p[a] != '/')
		return "A server URL cannot have a search program";
	struct span path = {s.p + a + 1, s.n - a - 1};
	return parse_path(path, pos + a + 1, false, NULL, u);
}

/* RFC 3986 scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" before
 * any '/', '?' or ';'. Returns its length (without ':'), 0 when none. */
static size_t scheme_len(struct span s)
{
	if (s.n == 0 || !is_alpha((unsigned char)s.p[0]))
		return 0;
	for (size_t i = 1; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c == ':')
			return i;
		if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.')
			return 0;
	}
	return 0;
}

int imap_url_parse(const char *str, size_t len, const struct imap_url *base, struct imap_url *url_r,
		   const char **error_r)
{
	struct imap_url u = {0};
	const char *err = NULL;
	struct span s = {str, len};
	*error_r = NULL;
	memset(url_r, 0, sizeof(*url_r));
	if (str == NULL || len > IMAP_URL_MAX_LEN) {
		*error_r = "URL too long";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)str[i];
		if (c <= 0x20 || c >= 0x7f) {
			*error_r = "Invalid character in URL";
			return -1;
		}
	}
	size_t sl = scheme_len(s);
	if (sl > 0) {
		if (sl != 4 || strncasecmp(s.p, "imap", 4) != 0)
			err = "Not an IMAP URL";
		else if (len < 7 || s.p[5] != '/' || s.p[6] != '/')
			err = "An IMAP URL starts with imap://";
		else
			err = parse_network_path((struct span){s.p + 7, len - 7}, 7, &u);
	} else if (base == NULL) {
		err = "Relative URL without a base";
	} else if (len >= 2 && s.p[0] == '/' && s.p[1] == '/') {
		err = parse_network_path((struct span){s.p + 2, len - 2}, 2, &u);
	} else if (len >= 1 && s.p[0] == '/') {
		err = inherit_server(base, &u);
		if (err == NULL)
			err = parse_path((struct span){s.p + 1, len - 1}, 1, false, NULL, &u);
	} else if (len == 0) {
		err = copy_url(base, &u);
	} else {
		err = inherit_server(base, &u);
		if (err == NULL)
			err = parse_path(s, 0, true, base, &u);
	}
	if (err == NULL && u.access != IMAP_URL_ACCESS_NONE && u.uid == 0)
		err = "URLAUTH needs a message part";
	if (err != NULL) {
		imap_url_clear(&u);
		*error_r = err;
		return -1;
	}
	*url_r = u;
	return 0;
}

void imap_url_clear(struct imap_url *u)
{
	free(u->user);
	free(u->auth_type);
	free(u->host);
	free(u->mailbox);
	free(u->search);
	free(u->section);
	free(u->access_user);
	free(u->mechanism);
	free(u->token);
	memset(u, 0, sizeof(*u));
}
