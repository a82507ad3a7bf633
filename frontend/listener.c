/* listener: SO_REUSEPORT listening socket per worker. See listener.h. */
#include "listener.h"

#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct listener {
	struct fe_worker *w;
	uv_tcp_t tcp;
	struct listener_opts opts;
};

static void on_connection(uv_stream_t *server, int status)
{
	struct listener *l = server->data;
	if (status < 0) {
		log_warn("event=accept_failed err=%s", uv_strerror(status));
		return;
	}
	struct conn *c = conn_new(l->w, &l->opts);
	if (c == NULL) {
		/* Accept and drop, or the listener keeps reporting the same connection. */
		uv_tcp_t *tmp = malloc(sizeof(*tmp));
		if (tmp != NULL) {
			uv_tcp_init(l->w->loop, tmp);
			if (uv_accept(server, (uv_stream_t *)tmp) == 0)
				log_warn("event=accept_dropped reason=out_of_memory");
			uv_close((uv_handle_t *)tmp, (uv_close_cb)free);
		}
		return;
	}
	if (uv_accept(server, (uv_stream_t *)conn_tcp(c)) < 0) {
		conn_close(c, "accept failed");
		return;
	}
	conn_start(c);
}

static void on_closed(uv_handle_t *h);

int listener_socket(const struct cfg_listener *cl, const char *what, int backlog, char *err, size_t errlen)
{
	struct addrinfo hints, *ai = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
	char port[16];
	snprintf(port, sizeof(port), "%d", cl->port);
	int rc = getaddrinfo(cl->host, port, &hints, &ai);
	if (rc != 0) {
		snprintf(err, errlen, "%s %s: %s (use a numeric address)", what, cl->host, gai_strerror(rc));
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
		snprintf(err, errlen, "%s on %s:%d: %s", what, cl->host, cl->port, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

struct listener *listener_open(struct fe_worker *w, const struct cfg_listener *cl, bool implicit_tls, char *err,
			       size_t errlen)
{
	int fd = listener_socket(cl, "listen", 1024, err, errlen);
	if (fd < 0)
		return NULL;
	struct listener *l = calloc(1, sizeof(*l));
	if (l == NULL) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->w = w;
	l->opts.implicit_tls = implicit_tls;
	l->opts.proxy = cl->proxy;
	uv_tcp_init(w->loop, &l->tcp);
	l->tcp.data = l;
	if (uv_tcp_open(&l->tcp, fd) < 0 || uv_listen((uv_stream_t *)&l->tcp, 1024, on_connection) < 0) {
		snprintf(err, errlen, "listen on %s:%d failed", cl->host, cl->port);
		uv_close((uv_handle_t *)&l->tcp, on_closed);
		return NULL;
	}
	log_info("event=listening addr=%s:%d tls=%s proxy=%u worker=%u", cl->host, cl->port,
		 implicit_tls ? "implicit" : "starttls", cl->proxy, w->worker_index);
	return l;
}

static void on_closed(uv_handle_t *h)
{
	free(h->data);
}

void listener_close(struct listener **lp)
{
	struct listener *l = *lp;
	if (l == NULL)
		return;
	*lp = NULL;
	uv_close((uv_handle_t *)&l->tcp, on_closed);
}
