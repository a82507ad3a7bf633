/*
 * config: INI cluster configuration via inih. See config.h for the keys.
 *
 * Parsing is two-phase: inih calls config_handler for each key, which fills a
 * cpm_config under construction and records the first error; config_load then
 * validates the whole (at least one shard, a secret, listeners parse) so that
 * a process never starts with a half-understood configuration.
 */
#include "config.h"

#include "log.h"

#include <ini.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct load_state {
	struct cpm_config *cfg;
	char err[256];
};

static char *xstrdup_trim(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return strndup(s, n);
}

static int parse_uint(const char *v, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	if (*v == '-' || *v == '\0')
		return -1;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0' || x > max)
		return -1;
	*out = x;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "on"))
		*out = true;
	else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "off"))
		*out = false;
	else
		return -1;
	return 0;
}

static int parse_proxy(const char *v, unsigned *out)
{
	if (!strcasecmp(v, "off") || !strcasecmp(v, "no") || *v == '\0')
		*out = 0;
	else if (!strcasecmp(v, "v1"))
		*out = CFG_PROXY_V1;
	else if (!strcasecmp(v, "v2"))
		*out = CFG_PROXY_V2;
	else if (!strcasecmp(v, "any") || !strcasecmp(v, "yes"))
		*out = CFG_PROXY_V1 | CFG_PROXY_V2;
	else
		return -1;
	return 0;
}

/* "host:port", "[v6]:port" or "" (off). */
static int parse_listen(const char *v, struct cfg_listener *l)
{
	free(l->host);
	l->host = NULL;
	l->port = 0;
	if (*v == '\0')
		return 0;
	const char *colon = strrchr(v, ':');
	if (colon == NULL || colon == v)
		return -1;
	uint64_t port;
	if (parse_uint(colon + 1, 65535, &port) < 0)
		return -1;
	const char *h = v;
	size_t hl = (size_t)(colon - v);
	if (h[0] == '[') {
		if (hl < 3 || h[hl - 1] != ']')
			return -1;
		h++;
		hl -= 2;
	}
	l->host = strndup(h, hl);
	l->port = (int)port;
	return l->host == NULL ? -1 : 0;
}

static int split_list(const char *v, char ***items_r, size_t *n_r)
{
	char **items = NULL;
	size_t n = 0;
	const char *p = v;
	while (*p != '\0') {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char *tmp = strndup(p, len);
		char *item = tmp ? xstrdup_trim(tmp) : NULL;
		free(tmp);
		if (item == NULL)
			goto fail;
		if (*item == '\0') {
			free(item);
		} else {
			char **ni = realloc(items, (n + 1) * sizeof(*items));
			if (ni == NULL) {
				free(item);
				goto fail;
			}
			items = ni;
			items[n++] = item;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	*items_r = items;
	*n_r = n;
	return 0;
fail:
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	free(items);
	return -1;
}

static struct cfg_shard *shard_for(struct cpm_config *cfg, const char *id)
{
	for (size_t i = 0; i < cfg->n_shards; i++)
		if (strcmp(cfg->shards[i].id, id) == 0)
			return &cfg->shards[i];
	struct cfg_shard *ns = realloc(cfg->shards, (cfg->n_shards + 1) * sizeof(*ns));
	if (ns == NULL)
		return NULL;
	cfg->shards = ns;
	struct cfg_shard *s = &cfg->shards[cfg->n_shards];
	memset(s, 0, sizeof(*s));
	s->id = strdup(id);
	s->map_size_mb = 4096;
	if (s->id == NULL)
		return NULL;
	cfg->n_shards++;
	return s;
}

static int set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = *v ? strdup(v) : NULL;
	return (*v && *dst == NULL) ? -1 : 0;
}

static int config_handler(void *user, const char *section, const char *name, const char *rawval)
{
	struct load_state *st = user;
	struct cpm_config *cfg = st->cfg;
	char *value = xstrdup_trim(rawval);
	uint64_t u;
	int bad = 0;
	if (value == NULL)
		return 0;
	if (!strcmp(section, "cluster")) {
		if (!strcmp(name, "secret")) {
			free(cfg->secret);
			cfg->secret = (unsigned char *)strdup(value);
			cfg->secret_len = strlen(value);
		} else if (!strcmp(name, "rpc_timeout_ms")) {
			bad = parse_uint(value, 600000, &u) < 0 || u < 10;
			cfg->rpc_timeout_ms = (unsigned)u;
		} else if (!strcmp(name, "default_folders")) {
			for (size_t i = 0; i < cfg->n_default_folders; i++)
				free(cfg->default_folders[i]);
			free(cfg->default_folders);
			cfg->default_folders = NULL;
			cfg->n_default_folders = 0;
			bad = split_list(value, &cfg->default_folders, &cfg->n_default_folders) < 0;
		} else if (!strcmp(name, "scram_iterations")) {
			bad = parse_uint(value, 1000000, &u) < 0 || u < 1;
			cfg->scram_iterations = (unsigned)u;
		} else if (!strcmp(name, "default_quota_mb")) {
			bad = parse_uint(value, 1ull << 30, &u) < 0;
			cfg->default_quota_mb = u;
		} else if (!strcmp(name, "log_level")) {
			bad = set_str(&cfg->log_level, value) < 0;
		} else if (!strcmp(name, "outband_retention_s")) {
			bad = parse_uint(value, 10ull * 365 * 86400, &cfg->outband_retention_s) < 0;
		} else if (!strcmp(name, "outband_retention_max")) {
			bad = parse_uint(value, 1ull << 40, &cfg->outband_retention_max) < 0;
		} else if (!strcmp(name, "blob_file_threshold_kb")) {
			bad = parse_uint(value, 1ull << 30, &cfg->blob_file_threshold_kb) < 0;
		} else if (!strcmp(name, "append_staging_max")) {
			bad = parse_uint(value, 1000, &u) < 0 || u < 1;
			cfg->append_staging_max = (unsigned)u;
		} else if (!strcmp(name, "append_staging_idle_s")) {
			bad = parse_uint(value, 86400, &u) < 0 || u < 1;
			cfg->append_staging_idle_s = (unsigned)u;
		} else {
			bad = 2;
		}
	} else if (!strncmp(section, "shard.", 6) && section[6] != '\0') {
		struct cfg_shard *s = shard_for(cfg, section + 6);
		if (s == NULL)
			bad = 1;
		else if (!strcmp(name, "rpc"))
			bad = set_str(&s->rpc, value) < 0;
		else if (!strcmp(name, "feed"))
			bad = set_str(&s->feed, value) < 0;
		else if (!strcmp(name, "data_dir"))
			bad = set_str(&s->data_dir, value) < 0;
		else if (!strcmp(name, "map_size_mb")) {
			bad = parse_uint(value, 1u << 24, &u) < 0 || u < 8;
			s->map_size_mb = u;
		} else
			bad = 2;
	} else if (!strcmp(section, "frontend")) {
		if (!strcmp(name, "workers")) {
			bad = parse_uint(value, 256, &u) < 0 || u < 1;
			cfg->workers = (unsigned)u;
		} else if (!strcmp(name, "hostname"))
			bad = set_str(&cfg->hostname, value) < 0;
		else if (!strcmp(name, "imap_listen"))
			bad = parse_listen(value, &cfg->imap) < 0;
		else if (!strcmp(name, "imaps_listen"))
			bad = parse_listen(value, &cfg->imaps) < 0;
		else if (!strcmp(name, "imap_proxy"))
			bad = parse_proxy(value, &cfg->imap.proxy) < 0;
		else if (!strcmp(name, "imaps_proxy"))
			bad = parse_proxy(value, &cfg->imaps.proxy) < 0;
		else if (!strcmp(name, "allow_plaintext_auth"))
			bad = parse_bool(value, &cfg->allow_plaintext_auth) < 0;
		else if (!strcmp(name, "tls_cert"))
			bad = set_str(&cfg->tls_cert, value) < 0;
		else if (!strcmp(name, "tls_key"))
			bad = set_str(&cfg->tls_key, value) < 0;
		else if (!strcmp(name, "tls_client_ca"))
			bad = set_str(&cfg->tls_client_ca, value) < 0;
		else if (!strcmp(name, "tls_psk_file"))
			bad = set_str(&cfg->tls_psk_file, value) < 0;
		else if (!strcmp(name, "max_line")) {
			bad = parse_uint(value, 16u << 20, &u) < 0 || u < 1024;
			cfg->max_line = (size_t)u;
		} else if (!strcmp(name, "max_literal")) {
			bad = parse_uint(value, 1ull << 32, &u) < 0 || u < 1024;
			cfg->max_literal = (size_t)u;
		} else if (!strcmp(name, "append_stream_kb")) {
			bad = parse_uint(value, 1u << 22, &u) < 0;
			cfg->append_stream_kb = (size_t)u;
		} else if (!strcmp(name, "append_chunk_kb")) {
			bad = parse_uint(value, 16384, &u) < 0 || u < 16;
			cfg->append_chunk_kb = (size_t)u;
		} else if (!strcmp(name, "login_fail_delay_ms")) {
			bad = parse_uint(value, 60000, &u) < 0;
			cfg->login_fail_delay_ms = (unsigned)u;
		} else if (!strcmp(name, "outband_listen"))
			bad = parse_listen(value, &cfg->outband) < 0;
		else if (!strcmp(name, "outband_secret"))
			bad = set_str(&cfg->outband_secret, value) < 0;
		else if (!strcmp(name, "outband_tls"))
			bad = parse_bool(value, &cfg->outband_tls) < 0;
		else if (!strcmp(name, "outband_client_ca"))
			bad = set_str(&cfg->outband_client_ca, value) < 0;
		else if (!strcmp(name, "outband_heartbeat_s")) {
			bad = parse_uint(value, 3600, &u) < 0 || u < 1;
			cfg->outband_heartbeat_s = (unsigned)u;
		} else if (!strcmp(name, "outband_max_buffer")) {
			bad = parse_uint(value, 1ull << 30, &u) < 0 || u < 65536;
			cfg->outband_max_buffer = (size_t)u;
		} else if (!strcmp(name, "outband_max_subscribers")) {
			bad = parse_uint(value, 1000000, &u) < 0 || u < 1;
			cfg->outband_max_subscribers = (unsigned)u;
		} else
			bad = 2;
	} else {
		bad = 3;
	}
	if (bad && st->err[0] == '\0') {
		if (bad == 2)
			snprintf(st->err, sizeof(st->err), "unknown key '%s' in [%s]", name, section);
		else if (bad == 3)
			snprintf(st->err, sizeof(st->err), "unknown section [%s]", section);
		else
			snprintf(st->err, sizeof(st->err), "bad value for '%s' in [%s]: '%s'", name, section, value);
	}
	free(value);
	return 1;
}

static void config_defaults(struct cpm_config *cfg)
{
	cfg->rpc_timeout_ms = 5000;
	cfg->scram_iterations = 4096;
	cfg->workers = 1;
	cfg->max_line = 65536;
	cfg->max_literal = 64u << 20;
	cfg->blob_file_threshold_kb = 256;
	cfg->append_staging_max = 8;
	cfg->append_staging_idle_s = 300;
	cfg->append_stream_kb = 1024;
	cfg->append_chunk_kb = 1024;
	cfg->login_fail_delay_ms = 1000;
	cfg->outband_retention_s = 7 * 86400;
	cfg->outband_retention_max = 1000000;
	cfg->outband_heartbeat_s = 30;
	cfg->outband_max_buffer = 1u << 20;
	cfg->outband_max_subscribers = 1000;
}

int config_load(const char *path, struct cpm_config **cfg_r, char *err, size_t errlen)
{
	struct load_state st;
	memset(&st, 0, sizeof(st));
	st.cfg = calloc(1, sizeof(*st.cfg));
	if (st.cfg == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	config_defaults(st.cfg);
	st.cfg->path = strdup(path);
	int rc = ini_parse(path, config_handler, &st);
	if (rc < 0)
		snprintf(st.err, sizeof(st.err), "cannot open %s: %s", path, strerror(errno));
	else if (rc > 0 && st.err[0] == '\0')
		snprintf(st.err, sizeof(st.err), "%s: syntax error on line %d", path, rc);
	struct cpm_config *cfg = st.cfg;
	if (st.err[0] == '\0') {
		if (cfg->secret == NULL || cfg->secret_len < 16)
			snprintf(st.err, sizeof(st.err), "[cluster] secret must be at least 16 characters");
		else if (cfg->n_shards == 0)
			snprintf(st.err, sizeof(st.err), "no [shard.ID] section");
		else if (cfg->n_default_folders == 0 && split_list("INBOX, Default", &cfg->default_folders,
								   &cfg->n_default_folders) < 0)
			snprintf(st.err, sizeof(st.err), "out of memory");
		if (cfg->hostname == NULL)
			cfg->hostname = strdup("cpm-store");
		for (size_t i = 0; st.err[0] == '\0' && i < cfg->n_shards; i++) {
			struct cfg_shard *s = &cfg->shards[i];
			if (s->rpc == NULL || s->feed == NULL || s->data_dir == NULL)
				snprintf(st.err, sizeof(st.err), "[shard.%s] needs rpc, feed and data_dir", s->id);
		}
		/* The outband endpoint never runs unauthenticated. */
		if (st.err[0] == '\0' && cfg->outband.host != NULL) {
			bool by_secret = cfg->outband_secret != NULL && strlen(cfg->outband_secret) >= 16;
			bool by_cert = cfg->outband_tls && cfg->outband_client_ca != NULL;
			if (cfg->outband_secret != NULL && !by_secret)
				snprintf(st.err, sizeof(st.err), "[frontend] outband_secret must be at least 16 characters");
			else if (!by_secret && !by_cert)
				snprintf(st.err, sizeof(st.err),
					 "[frontend] outband_listen needs outband_secret or outband_tls with outband_client_ca");
			else if (cfg->outband_tls && (cfg->tls_cert == NULL || cfg->tls_key == NULL))
				snprintf(st.err, sizeof(st.err), "[frontend] outband_tls needs tls_cert and tls_key");
		}
	}
	if (st.err[0] != '\0') {
		snprintf(err, errlen, "%s", st.err);
		config_free(&cfg);
		return -1;
	}
	*cfg_r = cfg;
	return 0;
}

void config_free(struct cpm_config **cfgp)
{
	struct cpm_config *cfg = *cfgp;
	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->secret);
	for (size_t i = 0; i < cfg->n_default_folders; i++)
		free(cfg->default_folders[i]);
	free(cfg->default_folders);
	free(cfg->log_level);
	for (size_t i = 0; i < cfg->n_shards; i++) {
		free(cfg->shards[i].id);
		free(cfg->shards[i].rpc);
		free(cfg->shards[i].feed);
		free(cfg->shards[i].data_dir);
	}
	free(cfg->shards);
	free(cfg->hostname);
	free(cfg->imap.host);
	free(cfg->imaps.host);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->tls_client_ca);
	free(cfg->tls_psk_file);
	free(cfg->outband.host);
	free(cfg->outband_secret);
	free(cfg->outband_client_ca);
	free(cfg);
	*cfgp = NULL;
}

const struct cfg_shard *config_shard(const struct cpm_config *cfg, const char *id)
{
	int i = config_shard_index(cfg, id);
	return i < 0 ? NULL : &cfg->shards[i];
}

int config_shard_index(const struct cpm_config *cfg, const char *id)
{
	for (size_t i = 0; i < cfg->n_shards; i++)
		if (strcmp(cfg->shards[i].id, id) == 0)
			return (int)i;
	return -1;
}

int config_log_level(const struct cpm_config *cfg)
{
	const char *l = cfg->log_level;
	if (l == NULL)
		return LOG_INFO;
	if (!strcasecmp(l, "debug"))
		return LOG_DEBUG;
	if (!strcasecmp(l, "warn"))
		return LOG_WARN;
	if (!strcasecmp(l, "error"))
		return LOG_ERROR;
	return LOG_INFO;
}
