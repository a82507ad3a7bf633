/*
 * nn-msg: the two nanomsg calls the RPC transport makes, without blocking.
 *
 * nn_msg_recv receives one message with its control header (the SP header
 * of raw REQ/REP sockets): both are nanomsg-allocated, the caller frees each
 * with nn_freemsg. Returns the body length, or -1 with nn_errno() set
 * (EAGAIN when nothing is waiting).
 *
 * nn_msg_send copies len bytes into a nanomsg message and sends it with a
 * control header: ctl_len == NN_MSG means ctl points to a nanomsg-allocated
 * header pointer, which a successful send consumes (and sets to NULL); any
 * other ctl_len is a caller-owned buffer of that size. Returns 0, or -1 with
 * nn_errno() set (the caller's data and header are untouched).
 */
#ifndef CPM_NN_MSG_H
#define CPM_NN_MSG_H

#include <stddef.h>

int nn_msg_recv(int sock, void **body_r, void **ctl_r);
int nn_msg_send(int sock, const void *data, size_t len, void *ctl, size_t ctl_len);

#endif
