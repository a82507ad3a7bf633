/*
 * listener: one listening TCP socket of a worker.
 *
 * Each worker process opens its own socket on the configured address with
 * SO_REUSEPORT, so the kernel spreads new connections over the workers
 * without a shared accept queue. Accepted sockets become conns (conn.h).
 */
#ifndef CPM_FRONTEND_LISTENER_H
#define CPM_FRONTEND_LISTENER_H

#include "config.h"
#include "conn.h"
#include "worker.h"

struct listener;

/* NULL with a reason in err when the address cannot be bound. */
struct listener *listener_open(struct fe_worker *w, const struct cfg_listener *l, bool implicit_tls, char *err,
			       size_t errlen);
void listener_close(struct listener **l);
/* A listening TCP socket for cl (numeric address; SO_REUSEPORT so every
 * worker binds the same port), with listen(backlog). The fd, or -1 with a
 * reason naming what (e.g. "outband_listen") in err. */
int listener_socket(const struct cfg_listener *cl, const char *what, int backlog, char *err, size_t errlen);

#endif
