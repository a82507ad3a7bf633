/*
 * cpm-admin: operator command line for a running cluster.
 *
 *   cpm-admin -c CONF user add NAME      password = first line of stdin
 *   cpm-admin -c CONF user passwd NAME   new password = first line of stdin
 *   cpm-admin -c CONF user del NAME
 *   cpm-admin -c CONF user list
 *   cpm-admin -c CONF user where NAME    prints the shard id that owns NAME
 *   cpm-admin -c CONF user quota NAME MB storage quota in MiB (0 = unlimited)
 *   cpm-admin -c CONF ping               one line per shard; exit 1 if any is down
 *
 * It talks to the back-ends over the same authenticated RPC as the
 * front-ends (common/rpc-client.h), routing users with the same rendezvous
 * hash. The password never leaves this process: it is turned into a
 * SCRAM-SHA-256 secret here and only the secret is sent.
 * Exit status: 0 success, 1 failure (reason on stderr), 2 usage.
 */
#include "config.h"
#include "log.h"
#include "rpc-client.h"
#include "scram-secret.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct admin {
	uv_loop_t loop;
	struct cpm_config *cfg;
	struct rpc_client *rpc;
	unsigned outstanding;
	int exit_code;
	char **names;
	size_t n_names;
};

static void usage(void)
{
	fprintf(stderr, "usage: cpm-admin -c CONFIG user add|passwd|del|where NAME\n"
			"       cpm-admin -c CONFIG user quota NAME MB\n"
			"       cpm-admin -c CONFIG user list\n"
			"       cpm-admin -c CONFIG ping\n");
	exit(2);
}

static const char *status_text(const Cpm__Response *r)
{
	return r->error && r->error[0] ? r->error : protobuf_c_enum_descriptor_get_value(&cpm__status__descriptor, r->status)->name;
}

static void on_simple(const Cpm__Response *resp, void *ctx)
{
	struct admin *a = ctx;
	a->outstanding--;
	if (resp->status != CPM__STATUS__OK) {
		fprintf(stderr, "cpm-admin: %s\n", status_text(resp));
		a->exit_code = 1;
	}
}

static void on_list(const Cpm__Response *resp, void *ctx)
{
	struct admin *a = ctx;
	a->outstanding--;
	if (resp->status != CPM__STATUS__OK || resp->result_case != CPM__RESPONSE__RESULT_USER_LIST) {
		fprintf(stderr, "cpm-admin: %s\n", status_text(resp));
		a->exit_code = 1;
		return;
	}
	for (size_t i = 0; i < resp->user_list->n_users; i++) {
		char **nn = realloc(a->names, (a->n_names + 1) * sizeof(*nn));
		if (nn == NULL)
			break;
		a->names = nn;
		a->names[a->n_names++] = strdup(resp->user_list->users[i]);
	}
}

struct ping_ctx {
	struct admin *a;
	size_t shard;
};

static void on_ping(const Cpm__Response *resp, void *ctx)
{
	struct ping_ctx *p = ctx;
	struct admin *a = p->a;
	a->outstanding--;
	const char *id = a->cfg->shards[p->shard].id;
	if (resp->status == CPM__STATUS__OK)
		printf("%s ok %s\n", id, a->cfg->shards[p->shard].rpc);
	else {
		printf("%s down %s\n", id, status_text(resp));
		a->exit_code = 1;
	}
	free(p);
}

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

static char *read_password(void)
{
	char line[4096];
	if (fgets(line, sizeof(line), stdin) == NULL)
		return NULL;
	size_t n = strcspn(line, "\r\n");
	line[n] = '\0';
	char *p = n > 0 ? strdup(line) : NULL;
	OPENSSL_cleanse(line, sizeof(line));
	return p;
}

static void run(struct admin *a)
{
	while (a->outstanding > 0)
		uv_run(&a->loop, UV_RUN_ONCE);
}

static int user_put(struct admin *a, const char *name, bool create)
{
	char *pw = read_password();
	if (pw == NULL) {
		fprintf(stderr, "cpm-admin: no password on standard input\n");
		return 1;
	}
	struct scram_secret sec;
	int rc = scram_secret_from_password(pw, a->cfg->scram_iterations, &sec);
	OPENSSL_cleanse(pw, strlen(pw));
	free(pw);
	struct buf enc;
	buf_init(&enc);
	if (rc < 0 || scram_secret_encode(&sec, &enc) < 0) {
		fprintf(stderr, "cpm-admin: cannot derive the SCRAM secret\n");
		return 1;
	}
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__UserPutReq up = CPM__USER_PUT_REQ__INIT;
	up.user = (char *)name;
	up.scram_secret = (char *)enc.data;
	up.create_only = create;
	up.update_only = !create;
	req.op_case = CPM__REQUEST__OP_USER_PUT;
	req.user_put = &up;
	a->outstanding++;
	rpc_call(a->rpc, rpc_shard_for_user(a->rpc, name), &req, 0, on_simple, a);
	run(a);
	buf_free(&enc);
	return a->exit_code;
}

int main(int argc, char **argv)
{
	const char *conf = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "c:h")) != -1) {
		if (opt == 'c')
			conf = optarg;
		else
			usage();
	}
	if (conf == NULL || optind >= argc)
		usage();
	struct admin a;
	memset(&a, 0, sizeof(a));
	char err[512];
	if (config_load(conf, &a.cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "cpm-admin: %s\n", err);
		return 1;
	}
	log_init("cpm-admin", LOG_ERROR);
	uv_loop_init(&a.loop);
	a.rpc = rpc_client_new(&a.loop, a.cfg, err, sizeof(err));
	if (a.rpc == NULL) {
		fprintf(stderr, "cpm-admin: %s\n", err);
		return 1;
	}
	const char *what = argv[optind];
	int rc = 0;
	if (strcmp(what, "ping") == 0 && optind + 1 == argc) {
		for (size_t i = 0; i < a.cfg->n_shards; i++) {
			struct ping_ctx *p = malloc(sizeof(*p));
			if (p == NULL)
				return 1;
			p->a = &a;
			p->shard = i;
			Cpm__Request req = CPM__REQUEST__INIT;
			Cpm__PingReq pr = CPM__PING_REQ__INIT;
			req.op_case = CPM__REQUEST__OP_PING;
			req.ping = &pr;
			a.outstanding++;
			rpc_call(a.rpc, i, &req, 2000, on_ping, p);
		}
		run(&a);
		rc = a.exit_code;
	} else if (strcmp(what, "user") == 0 && optind + 2 <= argc) {
		const char *sub = argv[optind + 1];
		const char *name = optind + 2 < argc ? argv[optind + 2] : NULL;
		if (strcmp(sub, "list") == 0 && name == NULL) {
			for (size_t i = 0; i < a.cfg->n_shards; i++) {
				Cpm__Request req = CPM__REQUEST__INIT;
				Cpm__UserListReq ul = CPM__USER_LIST_REQ__INIT;
				req.op_case = CPM__REQUEST__OP_USER_LIST;
				req.user_list = &ul;
				a.outstanding++;
				rpc_call(a.rpc, i, &req, 0, on_list, &a);
			}
			run(&a);
			if (a.n_names > 1)
				qsort(a.names, a.n_names, sizeof(*a.names), cmp_str);
			for (size_t i = 0; i < a.n_names; i++) {
				printf("%s\n", a.names[i]);
				free(a.names[i]);
			}
			free(a.names);
			rc = a.exit_code;
		} else if (name != NULL && strcmp(sub, "quota") == 0 && optind + 4 == argc) {
			char *end;
			unsigned long long mb = strtoull(argv[optind + 3], &end, 10);
			if (*end != '\0' || argv[optind + 3][0] == '-' || mb > (1ull << 30))
				usage();
			Cpm__Request req = CPM__REQUEST__INIT;
			Cpm__QuotaSetReq qs = CPM__QUOTA_SET_REQ__INIT;
			qs.user = (char *)name;
			qs.limit = mb << 20;
			req.op_case = CPM__REQUEST__OP_QUOTA_SET;
			req.quota_set = &qs;
			a.outstanding++;
			rpc_call(a.rpc, rpc_shard_for_user(a.rpc, name), &req, 0, on_simple, &a);
			run(&a);
			rc = a.exit_code;
		} else if (name != NULL && optind + 3 == argc) {
			if (strcmp(sub, "add") == 0) {
				rc = user_put(&a, name, true);
			} else if (strcmp(sub, "passwd") == 0) {
				rc = user_put(&a, name, false);
			} else if (strcmp(sub, "where") == 0) {
				printf("%s\n", a.cfg->shards[rpc_shard_for_user(a.rpc, name)].id);
			} else if (strcmp(sub, "del") == 0) {
				Cpm__Request req = CPM__REQUEST__INIT;
				Cpm__UserDelReq ud = CPM__USER_DEL_REQ__INIT;
				ud.user = (char *)name;
				req.op_case = CPM__REQUEST__OP_USER_DEL;
				req.user_del = &ud;
				a.outstanding++;
				rpc_call(a.rpc, rpc_shard_for_user(a.rpc, name), &req, 0, on_simple, &a);
				run(&a);
				rc = a.exit_code;
			} else {
				usage();
			}
		} else {
			usage();
		}
	} else {
		usage();
	}
	rpc_client_close(&a.rpc);
	uv_run(&a.loop, UV_RUN_DEFAULT);
	uv_loop_close(&a.loop);
	config_free(&a.cfg);
	return rc;
}
