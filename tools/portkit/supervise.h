/* SPDX-License-Identifier: MIT */
/* What `portkit supervise` and `portkit ctl` share: the control socket's
 * default path and limits (the protocol is in docs/supervise.md). */
#ifndef PORTKIT_SUPERVISE_H
#define PORTKIT_SUPERVISE_H

#define PK_SV_DEFAULT_CONTROL "/run/portkit/control"
/* Largest request a client may send; a bigger header drops the client. */
#define PK_SV_MAX_REQUEST ((size_t)64 << 10)
/* Largest reply a client accepts (a status of many units, a long log). */
#define PK_SV_MAX_REPLY ((size_t)16 << 20)
/* Bytes queued for one client before it is dropped (a client that never reads). */
#define PK_SV_MAX_QUEUE ((size_t)1 << 20)
/* Clients at once; more are closed at accept. */
#define PK_SV_MAX_CLIENTS 64

int pk_sv_ctl_main(int argc, char **argv, int as_systemctl);

#endif
