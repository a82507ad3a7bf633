/*
 * outband: the operator endpoint for outband notifications (specification
 * 5.4.2; protocol in docs/outband.md, schema in proto/outband.proto).
 *
 * Off unless [frontend] outband_listen is set. Each worker listens on it
 * with SO_REUSEPORT (like the IMAP listeners). A connection carries
 * length-prefixed protobuf frames (4-byte big-endian length, at most
 * OB_MAX_FRAME), optionally inside TLS (outband_tls, using frontend/tls.c).
 * The subscriber authenticates with a TLS client certificate verified
 * against outband_client_ca, or with the shared outband_secret in its
 * Subscribe; then outband-sub.c streams its users' notification logs.
 *
 * Nothing blocks the loop: reads and writes are libuv's, log reads are
 * RPCs. A subscriber's queued output is bounded (outband_max_buffer); one
 * that does not read is dropped with Closing "slow" and resumes later from
 * its cursor.
 *
 * outband_start returns NULL with a reason in err; outband_stop (worker
 * shutdown) closes the listener and sends every subscriber Closing
 * "shutdown"; the worker's exit releases the rest. Loop thread only.
 */
#ifndef CPM_FRONTEND_OUTBAND_H
#define CPM_FRONTEND_OUTBAND_H

#include <stddef.h>

#include "worker.h"

#define OB_MAX_FRAME (1u << 20)          /* either direction */
#define OB_MAX_CLIENT_FRAME (256u * 1024) /* what a subscriber may send */
#define OB_SUBSCRIBE_TIMEOUT_MS 10000

struct outband;

struct outband *outband_start(struct fe_worker *w, char *err, size_t errlen);
void outband_stop(struct outband **ob);

#endif
