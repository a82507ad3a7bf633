/* nn-msg: non-blocking nanomsg send/receive with control headers. See nn-msg.h. */
#include "nn-msg.h"

#include <nanomsg/nn.h>
#include <string.h>

int nn_msg_recv(int sock, void **body_r, void **ctl_r)
{
	*body_r = NULL;
	*ctl_r = NULL;
	struct nn_iovec iov = {body_r, NN_MSG};
	struct nn_msghdr hdr;
	memset(&hdr, 0, sizeof(hdr));
	hdr.msg_iov = &iov;
	hdr.msg_iovlen = 1;
	hdr.msg_control = ctl_r;
	hdr.msg_controllen = NN_MSG;
	return nn_recvmsg(sock, &hdr, NN_DONTWAIT);
}

int nn_msg_send(int sock, const void *data, size_t len, void *ctl, size_t ctl_len)
{
	void *msg = nn_allocmsg(len, 0);
	if (msg == NULL)
		return -1;
	memcpy(msg, data, len);
	struct nn_iovec iov = {&msg, NN_MSG};
	struct nn_msghdr hdr;
	memset(&hdr, 0, sizeof(hdr));
	hdr.msg_iov = &iov;
	hdr.msg_iovlen = 1;
	hdr.msg_control = ctl;
	hdr.msg_controllen = ctl_len;
	if (nn_sendmsg(sock, &hdr, NN_DONTWAIT) < 0) {
		nn_freemsg(msg);
		return -1;
	}
	if (ctl_len == NN_MSG)
		*(void **)ctl = NULL;
	return 0;
}
