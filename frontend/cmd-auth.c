/*
 * cmd-auth: STARTTLS, LOGIN and AUTHENTICATE (RFC 3501 6.2, RFC 4959 SASL-IR).
 *
 * Credentials live on the user's shard as SCRAM-SHA-256 secrets (RFC 5803),
 * never passwords. Every mechanism starts with one RPC (user_get) to fetch
 * the secret, then:
 *  - LOGIN and PLAIN derive the SCRAM keys from the offered password with the
 *    stored salt and iterations (PBKDF2: milliseconds of CPU, so it runs on
 *    the libuv thread pool, never on the loop) and compare StoredKey.
 *  - SCRAM-SHA-256 runs GNU SASL's server with the stored keys.
 *    GNU SASL asks for the secret synchronously, so the user name is read
 *    from the client-first message before the exchange starts, the secret is
 *    fetched, and only then does the SASL step run.
 * An unknown user gets a fake, deterministic salt (HMAC of the cluster
 * secret and the name) and unusable keys: the exchange fails exactly like a
 * wrong password, so user names cannot be probed. Every failure is answered
 * after login_fail_delay_ms.
 */
#include "commands.h"

#include "conn.h"
#include "log.h"
#include "rpc-client.h"
#include "scram-secret.h"

#include <gsasl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AUTH_LINE_MAX 16384
#define USER_MAX 255

enum auth_mech { MECH_LOGIN, MECH_PLAIN, MECH_SCRAM };

struct auth_state {
	struct session *s;
	enum auth_mech mech;
	char user[USER_MAX + 1];
	char *password;           /* LOGIN/PLAIN, wiped on free */
	struct scram_secret secret;
	bool user_known;
	Gsasl_session *sasl;
	bool scram_final_sent;    /* waiting for the client's empty reply to server-final */
	uv_work_t work;
	bool verified;
	uv_timer_t *delay;
};

static void auth_state_free(void *p)
{
	struct auth_state *a = p;
	if (a->password != NULL) {
		OPENSSL_cleanse(a->password, strlen(a->password));
		free(a->password);
	}
	if (a->sasl != NULL)
		gsasl_finish(a->sasl);
	OPENSSL_cleanse(&a->secret, sizeof(a->secret));
	free(a);
}

static bool valid_user(const char *u, size_t len)
{
	if (len == 0 || len > USER_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)u[i];
		if (c <= 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

/* ---- outcome ------------------------------------------------------------- */

static void auth_succeeded(struct session *s, struct auth_state *a)
{
	free(s->user);
	s->user = strdup(a->user);
	s->shard = rpc_shard_for_user(s->w->rpc, a->user);
	s->state = SESSION_AUTH;
	if (s->conn != NULL)
		conn_set_authenticated(s->conn);
	log_info("event=login user=%s mech=%s conn=%s shard=%s", log_quote(a->user, strlen(a->user)),
		 a->mech == MECH_SCRAM ? "SCRAM-SHA-256" : a->mech == MECH_PLAIN ? "PLAIN" : "LOGIN",
		 s->conn ? conn_peer(s->conn) : "-", s->w->cfg->shards[s->shard].id);
	struct buf *b = session_outbuf(s);
	buf_printf(b, "%s OK [CAPABILITY ", s->tag);
	session_write_capabilities(s, b);
	buf_append_str(b, "] Logged in\r\n");
	session_done(s);
}

static void on_delay_closed(uv_handle_t *h)
{
	free(h);
}

static void on_fail_delay(uv_timer_t *t)
{
	struct session *s = t->data;
	uv_close((uv_handle_t *)t, on_delay_closed);
	if (!session_closed(s)) {
		session_tagged(s, "NO", "[AUTHENTICATIONFAILED] Authentication failed.");
		session_done(s);
	}
	session_unref(s);
}

static void auth_failed(struct session *s, struct auth_state *a, const char *why)
{
	s->auth_failures++;
	log_info("event=login_failed user=%s reason=%s conn=%s failures=%u", log_quote(a->user, strlen(a->user)),
		 why, s->conn ? conn_peer(s->conn) : "-", s->auth_failures);
	uv_timer_t *t = malloc(sizeof(*t));
	if (t == NULL) {
		session_tagged(s, "NO", "[AUTHENTICATIONFAILED] Authentication failed.");
		session_done(s);
		return;
	}
	uv_timer_init(s->w->loop, t);
	t->data = s;
	session_ref(s);
	/* More failures, longer waits (capped), like Dovecot's auth penalty. */
	uint64_t delay = (uint64_t)s->w->cfg->login_fail_delay_ms * (s->auth_failures > 4 ? 4 : s->auth_failures);
	uv_timer_start(t, on_fail_delay, delay, 0);
}

/* ---- secret lookup --------------------------------------------------------- */

typedef void lookup_done_fn(struct session *s, struct auth_state *a);

struct lookup {
	struct session *s;
	lookup_done_fn *done;
};

static void fake_secret(struct session *s, struct auth_state *a)
{
	/* Deterministic salt per name: probing twice shows the same salt. */
	unsigned char mac[32];
	unsigned int maclen = sizeof(mac);
	HMAC(EVP_sha256(), s->w->cfg->secret, (int)s->w->cfg->secret_len, (const unsigned char *)a->user,
	     strlen(a->user), mac, &maclen);
	memset(&a->secret, 0, sizeof(a->secret));
	a->secret.iterations = s->w->cfg->scram_iterations;
	memcpy(a->secret.salt, mac, 16);
	a->secret.salt_len = 16;
	RAND_bytes(a->secret.stored_key, sizeof(a->secret.stored_key));
	RAND_bytes(a->secret.server_key, sizeof(a->secret.server_key));
	a->user_known = false;
}

static void on_user_get(const Cpm__Response *resp, void *ctx)
{
	struct lookup *lk = ctx;
	struct session *s = lk->s;
	lookup_done_fn *done = lk->done;
	free(lk);
	if (session_closed(s)) {
		session_unref(s);
		return;
	}
	struct auth_state *a = s->cmd_state;
	if (resp->status == CPM__STATUS__OK && resp->result_case == CPM__RESPONSE__RESULT_USER_GET &&
	    scram_secret_decode(resp->user_get->scram_secret, strlen(resp->user_get->scram_secret), &a->secret) == 0) {
		a->user_known = true;
		done(s, a);
	} else if (resp->status == CPM__STATUS__NOTFOUND ||
		   (resp->status == CPM__STATUS__OK && resp->result_case == CPM__RESPONSE__RESULT_USER_GET)) {
		fake_secret(s, a);
		done(s, a);
	} else {
		session_tagged_rpc_error(s, resp, "Authentication");
		session_done(s);
	}
	session_unref(s);
}

static void lookup_user(struct session *s, struct auth_state *a, lookup_done_fn *done)
{
	struct lookup *lk = malloc(sizeof(*lk));
	if (lk == NULL) {
		session_tagged(s, "NO", "[SERVERBUG] out of memory");
		session_done(s);
		return;
	}
	lk->s = s;
	lk->done = done;
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__UserGetReq ug = CPM__USER_GET_REQ__INIT;
	ug.user = a->user;
	req.op_case = CPM__REQUEST__OP_USER_GET;
	req.user_get = &ug;
	session_ref(s);
	session_rpc(s, rpc_shard_for_user(s->w->rpc, a->user), &req, 0, on_user_get, lk);
}

/* ---- password verification (LOGIN, PLAIN) on the thread pool ----------- */

static void verify_work(uv_work_t *w)
{
	struct auth_state *a = w->data;
	a->verified = a->user_known && scram_secret_verify_password(&a->secret, a->password);
}

static void verify_after(uv_work_t *w, int status)
{
	struct auth_state *a = w->data;
	struct session *s = a->s;
	if (!session_closed(s)) {
		if (status == 0 && a->verified)
			auth_succeeded(s, a);
		else
			auth_failed(s, a, a->user_known ? "bad_password" : "unknown_user");
	}
	session_unref(s);
}

static void verify_password(struct session *s, struct auth_state *a)
{
	a->work.data = a;
	session_ref(s);
	if (uv_queue_work(s->w->loop, &a->work, verify_work, verify_after) < 0) {
		session_unref(s);
		auth_failed(s, a, "internal");
	}
}

static struct auth_state *auth_begin(struct session *s, enum auth_mech mech)
{
	struct auth_state *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NULL;
	a->s = s;
	a->mech = mech;
	s->cmd_state = a;
	s->cmd_state_free = auth_state_free;
	return a;
}

static bool plaintext_allowed(struct session *s)
{
	if (s->secure_channel)
		return true;
	session_tagged(s, "NO",
		       "[PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.");
	session_done(s);
	return false;
}

/* ---- LOGIN ------------------------------------------------------------------ */

void cmd_login(struct session *s, const struct imap_command *cmd)
{
	const char *user = cmd->nargs == 2 ? arg_astring(&cmd->args[0]) : NULL;
	const char *pass = cmd->nargs == 2 ? arg_astring(&cmd->args[1]) : NULL;
	if (user == NULL || pass == NULL) {
		session_tagged(s, "BAD", "LOGIN expects a user name and a password");
		session_done(s);
		return;
	}
	if (!plaintext_allowed(s))
		return;
	struct auth_state *a = auth_begin(s, MECH_LOGIN);
	if (a == NULL) {
		session_tagged(s, "NO", "[SERVERBUG] out of memory");
		session_done(s);
		return;
	}
	size_t ulen = strlen(user);
	a->password = strdup(pass);
	if (!valid_user(user, ulen) || a->password == NULL) {
		snprintf(a->user, sizeof(a->user), "%.*s", (int)(ulen > USER_MAX ? USER_MAX : ulen), user);
		auth_failed(s, a, "invalid_user_name");
		return;
	}
	memcpy(a->user, user, ulen + 1);
	lookup_user(s, a, verify_password);
}

/* ---- STARTTLS --------------------------------------------------------------- */

void cmd_starttls(struct session *s, const struct imap_command *cmd)
{
	if (cmd->nargs != 0) {
		session_tagged(s, "BAD", "STARTTLS takes no arguments");
	} else if (s->tls_active) {
		session_tagged(s, "BAD", "TLS is already active");
	} else if (s->w->tls == NULL) {
		session_tagged(s, "BAD", "TLS is not configured on this server");
	} else {
		session_tagged(s, "OK", "Begin TLS negotiation now.");
		if (s->conn == NULL || conn_start_tls(s->conn) < 0) {
			session_disconnect(s, "STARTTLS failed");
		} else {
			s->tls_active = true;
			s->secure_channel = true;
		}
	}
	session_done(s);
}

/* ---- AUTHENTICATE ------------------------------------------------------------- */

static int set_base64_property(Gsasl_session *sctx, Gsasl_property prop, const unsigned char *p, size_t n)
{
	struct buf b;
	buf_init(&b);
	int rc = GSASL_MALLOC_ERROR;
	if (scram_secret_base64(p, n, &b) == 0)
		rc = gsasl_property_set_raw(sctx, prop, (const char *)b.data, b.len);
	buf_free(&b);
	return rc;
}

/* GNU SASL asks for what it needs; answer from the session's fetched secret. */
int sasl_callback(Gsasl *ctx, Gsasl_session *sctx, Gsasl_property prop)
{
	struct auth_state *a = gsasl_session_hook_get(sctx);
	if (a == NULL)
		return GSASL_NO_CALLBACK;
	char tmp[256];
	switch (prop) {
	case GSASL_SCRAM_ITER:
		snprintf(tmp, sizeof(tmp), "%u", a->secret.iterations);
		return gsasl_property_set(sctx, prop, tmp);
	case GSASL_SCRAM_SALT:
		return set_base64_property(sctx, prop, a->secret.salt, a->secret.salt_len);
	/* libgsasl 2.2 takes these keys base64-encoded (its header says hex,
	 * its SCRAM server decodes base64; tests/unit/test-scram-secret.c pins it). */
	case GSASL_SCRAM_STOREDKEY:
		return set_base64_property(sctx, prop, a->secret.stored_key, sizeof(a->secret.stored_key));
	case GSASL_SCRAM_SERVERKEY:
		return set_base64_property(sctx, prop, a->secret.server_key, sizeof(a->secret.server_key));
	default:
		return GSASL_NO_CALLBACK;
	}
}

/* The user name of a SCRAM client-first-message (RFC 5802 section 7):
 * gs2-cbind-flag "," [authzid] "," ["m=" ext ","] "n=" saslname "," ... */
static int scram_client_first_user(const char *msg, size_t len, char *out, size_t outlen)
{
	const char *end = msg + len;
	const char *p = memchr(msg, ',', len);
	if (p == NULL)
		return -1;
	p = memchr(p + 1, ',', (size_t)(end - p - 1));
	if (p == NULL)
		return -1;
	p++;
	if (end - p > 2 && p[0] == 'm' && p[1] == '=')
		return -1; /* mandatory extensions are not supported */
	if (end - p < 2 || p[0] != 'n' || p[1] != '=')
		return -1;
	p += 2;
	size_t o = 0;
	while (p < end && *p != ',') {
		char c = *p++;
		if (c == '=') {
			if (end - p >= 2 && p[0] == '2' && p[1] == 'C')
				c = ',';
			else if (end - p >= 2 && p[0] == '3' && p[1] == 'D')
				c = '=';
			else
				return -1;
			p += 2;
		}
		if (o + 1 >= outlen)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return o > 0 ? 0 : -1;
}

static void sasl_line(struct session *s, const char *line, size_t len);

/* Runs one SASL step with base64 input; writes the continuation or finishes. */
static void sasl_step(struct session *s, struct auth_state *a, const char *b64)
{
	char *out = NULL;
	int rc = gsasl_step64(a->sasl, b64, &out);
	if (rc == GSASL_NEEDS_MORE) {
		session_continue(s, out ? out : "");
		session_expect_line(s, sasl_line, AUTH_LINE_MAX);
		free(out);
		return;
	}
	if (rc == GSASL_OK) {
		const char *authid = gsasl_property_fast(a->sasl, GSASL_AUTHID);
		const char *authzid = gsasl_property_fast(a->sasl, GSASL_AUTHZID);
		bool ok = a->user_known && authid != NULL && strcmp(authid, a->user) == 0 &&
			  (authzid == NULL || *authzid == '\0' || strcmp(authzid, a->user) == 0);
		if (!ok) {
			free(out);
			auth_failed(s, a, "authzid_mismatch");
			return;
		}
		if (out != NULL && *out != '\0') {
			/* Server-final data goes in a continuation; the client answers with an empty line. */
			session_continue(s, out);
			session_expect_line(s, sasl_line, AUTH_LINE_MAX);
			a->scram_final_sent = true;
			free(out);
			return;
		}
		free(out);
		auth_succeeded(s, a);
		return;
	}
	free(out);
	auth_failed(s, a, a->user_known ? gsasl_strerror_name(rc) : "unknown_user");
}

static void scram_start(struct session *s, struct auth_state *a);

static void sasl_line(struct session *s, const char *line, size_t len)
{
	struct auth_state *a = s->cmd_state;
	if (line == NULL) {
		session_tagged(s, "BAD", "Authentication line too long");
		session_done(s);
		return;
	}
	if (len == 1 && line[0] == '*') {
		session_tagged(s, "BAD", "Authentication aborted by client.");
		session_done(s);
		return;
	}
	if (a->scram_final_sent) {
		if (len == 0)
			auth_succeeded(s, a);
		else
			auth_failed(s, a, "unexpected_data_after_final");
		return;
	}
	if (a->sasl == NULL) {
		/* First client response after an empty "+ " (no SASL-IR). */
		{
			a->password = strndup(line, len); /* holds the base64 client-first until the lookup returns */
			if (a->password == NULL) {
				auth_failed(s, a, "internal");
				return;
			}
			scram_start(s, a);
			return;
		}
	}
	char *b64 = strndup(line, len);
	if (b64 == NULL) {
		auth_failed(s, a, "internal");
		return;
	}
	sasl_step(s, a, b64);
	free(b64);
}

/* PLAIN (RFC 4616): the message is authzid NUL authcid NUL passwd; the
 * password is then checked like LOGIN's, against the shard's secret. */
static void plain_start(struct session *s, struct auth_state *a, const char *b64, size_t len)
{
	char *raw = NULL;
	size_t rawlen = 0;
	if (len == 1 && b64[0] == '=')
		len = 0; /* RFC 4959: "=" is an empty initial response */
	if (gsasl_base64_from(b64, len, &raw, &rawlen) != GSASL_OK || rawlen == 0) {
		free(raw);
		session_tagged(s, "BAD", "Invalid base64 in PLAIN response");
		session_done(s);
		return;
	}
	/* authzid NUL authcid NUL passwd (RFC 4616) */
	const char *authzid = raw;
	const char *nul1 = memchr(raw, '\0', rawlen);
	const char *nul2 = nul1 ? memchr(nul1 + 1, '\0', rawlen - (size_t)(nul1 + 1 - raw)) : NULL;
	if (nul1 == NULL || nul2 == NULL || memchr(nul2 + 1, '\0', rawlen - (size_t)(nul2 + 1 - raw)) != NULL) {
		free(raw);
		session_tagged(s, "BAD", "Malformed PLAIN response");
		session_done(s);
		return;
	}
	const char *authcid = nul1 + 1;
	size_t ulen = (size_t)(nul2 - authcid);
	snprintf(a->user, sizeof(a->user), "%.*s", (int)(ulen > USER_MAX ? USER_MAX : ulen), authcid);
	a->password = strndup(nul2 + 1, rawlen - (size_t)(nul2 + 1 - raw));
	bool authz_ok = *authzid == '\0' || strcmp(authzid, a->user) == 0;
	bool user_ok = valid_user(authcid, ulen);
	OPENSSL_cleanse(raw, rawlen);
	free(raw);
	if (a->password == NULL || !user_ok || !authz_ok) {
		auth_failed(s, a, !authz_ok ? "authzid_not_allowed" : "invalid_user_name");
		return;
	}
	lookup_user(s, a, verify_password);
}

static void scram_after_lookup(struct session *s, struct auth_state *a)
{
	if (gsasl_server_start(s->w->gsasl, "SCRAM-SHA-256", &a->sasl) != GSASL_OK) {
		session_tagged(s, "NO", "[SERVERBUG] SASL unavailable");
		session_done(s);
		return;
	}
	gsasl_session_hook_set(a->sasl, a);
	char *first = a->password;
	a->password = NULL;
	sasl_step(s, a, first);
	free(first);
}

/* a->password holds the base64 client-first-message. */
static void scram_start(struct session *s, struct auth_state *a)
{
	char *raw = NULL;
	size_t rawlen = 0;
	if (gsasl_base64_from(a->password, strlen(a->password), &raw, &rawlen) != GSASL_OK ||
	    scram_client_first_user(raw, rawlen, a->user, sizeof(a->user)) < 0 ||
	    !valid_user(a->user, strlen(a->user))) {
		free(raw);
		session_tagged(s, "BAD", "Malformed SCRAM client-first-message");
		session_done(s);
		return;
	}
	free(raw);
	lookup_user(s, a, scram_after_lookup);
}

static void plain_line(struct session *s, const char *line, size_t len)
{
	struct auth_state *a = s->cmd_state;
	if (line == NULL || (len == 1 && line[0] == '*')) {
		session_tagged(s, "BAD", line == NULL ? "Authentication line too long" : "Authentication aborted by client.");
		session_done(s);
		return;
	}
	plain_start(s, a, line, len);
}

void cmd_authenticate(struct session *s, const struct imap_command *cmd)
{
	const char *mech = cmd->nargs >= 1 && cmd->args[0].type == IMAP_ARG_ATOM ? cmd->args[0].str : NULL;
	const struct imap_arg *ir = cmd->nargs == 2 ? &cmd->args[1] : NULL;
	if (mech == NULL || cmd->nargs > 2 || (ir != NULL && ir->type != IMAP_ARG_ATOM)) {
		session_tagged(s, "BAD", "AUTHENTICATE expects a mechanism and an optional initial response");
		session_done(s);
		return;
	}
	enum auth_mech m;
	if (strcasecmp(mech, "PLAIN") == 0) {
		m = MECH_PLAIN;
		if (!plaintext_allowed(s))
			return;
	} else if (strcasecmp(mech, "SCRAM-SHA-256") == 0) {
		m = MECH_SCRAM;
	} else {
		session_tagged(s, "NO", "Unsupported authentication mechanism.");
		session_done(s);
		return;
	}
	struct auth_state *a = auth_begin(s, m);
	if (a == NULL) {
		session_tagged(s, "NO", "[SERVERBUG] out of memory");
		session_done(s);
		return;
	}
	if (ir == NULL) {
		/* No SASL-IR: ask for the first response. */
		session_continue(s, "");
		session_expect_line(s, m == MECH_PLAIN ? plain_line : sasl_line, AUTH_LINE_MAX);
		return;
	}
	if (m == MECH_PLAIN) {
		plain_start(s, a, ir->str, ir->len);
		return;
	}
	a->password = strndup(ir->str, ir->len);
	if (a->password == NULL) {
		auth_failed(s, a, "internal");
		return;
	}
	scram_start(s, a);
}

