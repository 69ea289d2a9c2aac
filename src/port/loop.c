/* SPDX-License-Identifier: MIT */
/* The loop-driven API of the host side (placeholder until the loop layer lands). */
#include "port-host.h"

void pk__port_update_watchers(struct pk_port *p)
{
        (void)p;
}

void pk__port_detach(struct pk_port *p)
{
        (void)p;
}
