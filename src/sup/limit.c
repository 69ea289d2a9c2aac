/* SPDX-License-Identifier: MIT */
/* A child's own restart policy: the backoff parameters that override the
 * supervisor's (systemd's per-unit RestartSec= and RestartMaxDelaySec=) and a
 * per-child start limit (StartLimitIntervalSec=/StartLimitBurst=) kept as a
 * ring of recent start times.  The policy engine (sup.c) asks here; nothing
 * here arms timers or emits events. */
#include "sup-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DEF_START_LIMIT_INTERVAL_MS 10000
#define MAX_LIMIT_MS (INT64_C(1) << 40) /* as sup.c's MAX_DURATION_MS */
#define MAX_START_LIMIT_BURST 100000

int pk__sup_limit_apply(struct child *c, const struct pk_sup_child_spec *sp)
{
        if (sp->backoff_base_ms > MAX_LIMIT_MS || sp->backoff_cap_ms < 0 ||
            sp->backoff_cap_ms > MAX_LIMIT_MS || sp->backoff_reset_ms > MAX_LIMIT_MS ||
            sp->jitter_pct > 100 || sp->start_limit_burst < 0 ||
            sp->start_limit_burst > MAX_START_LIMIT_BURST || sp->start_limit_interval_ms < 0 ||
            sp->start_limit_interval_ms > MAX_LIMIT_MS)
                return -EINVAL;
        if (!c->x)
                return 0; /* nothing of its own (sup.c allocates x when a field is set) */
        struct child_limit *l = &c->x->lim;
        l->base_ms = sp->backoff_base_ms;
        l->cap_ms = sp->backoff_cap_ms;
        l->reset_ms = sp->backoff_reset_ms;
        l->jitter_pct = sp->jitter_pct;
        l->burst = sp->start_limit_burst;
        l->interval_ms =
            sp->start_limit_interval_ms ? sp->start_limit_interval_ms : DEF_START_LIMIT_INTERVAL_MS;
        l->head = l->n = 0;
        free(l->starts);
        l->starts = NULL;
        if (l->burst > 0) {
                l->starts = calloc((size_t)l->burst, sizeof(*l->starts));
                if (!l->starts)
                        return -ENOMEM;
        }
        return 0;
}

/* The limit of a child without a cold record: everything the supervisor's. */
static const struct child_limit no_limit = {.interval_ms = DEF_START_LIMIT_INTERVAL_MS};

static const struct child_limit *limit_of(const struct child *c)
{
        return c->x ? &c->x->lim : &no_limit;
}

void pk__sup_limit_to_spec(const struct child *c, struct pk_sup_child_spec *sp)
{
        const struct child_limit *l = limit_of(c);
        sp->backoff_base_ms = l->base_ms;
        sp->backoff_cap_ms = l->cap_ms;
        sp->backoff_reset_ms = l->reset_ms;
        sp->jitter_pct = l->jitter_pct;
        sp->start_limit_burst = l->burst;
        sp->start_limit_interval_ms = l->interval_ms;
}

void pk__sup_backoff_params(const struct child *c, struct sup_backoff *ret)
{
        const struct pk_sup_opts *o = &c->sup->opts; /* defaults resolved by pk_sup_new() */
        const struct child_limit *l = limit_of(c);
        ret->base_ms = l->base_ms ? l->base_ms : o->backoff_base_ms;
        if (ret->base_ms < 0)
                ret->base_ms = 0; /* < 0 asked for no delay */
        ret->cap_ms = l->cap_ms ? l->cap_ms : o->backoff_cap_ms;
        if (ret->cap_ms < ret->base_ms)
                ret->cap_ms = ret->base_ms;
        ret->reset_ms = l->reset_ms ? l->reset_ms : o->backoff_reset_ms;
        ret->jitter_pct = l->jitter_pct ? l->jitter_pct : o->jitter_pct;
}

/* Drops the starts older than the window. */
static void expire(struct child_limit *l, uint64_t now)
{
        uint64_t win = (uint64_t)l->interval_ms * 1000000u;
        while (l->n > 0 && now - l->starts[l->head] >= win) {
                l->head = (l->head + 1) % (size_t)l->burst;
                l->n--;
        }
}

void pk__sup_limit_started(struct child *c, uint64_t now)
{
        if (!c->x)
                return;
        struct child_limit *l = &c->x->lim;
        if (l->burst <= 0)
                return;
        expire(l, now);
        if (l->n == (size_t)l->burst) { /* a start asked for past the limit: keep the newest */
                l->head = (l->head + 1) % (size_t)l->burst;
                l->n--;
        }
        l->starts[(l->head + l->n) % (size_t)l->burst] = now;
        l->n++;
}

bool pk__sup_limit_ok(struct child *c, uint64_t now)
{
        if (!c->x)
                return true;
        struct child_limit *l = &c->x->lim;
        if (l->burst <= 0)
                return true;
        expire(l, now);
        return l->n < (size_t)l->burst;
}

void pk__sup_limit_reset(struct child *c)
{
        if (c->x)
                c->x->lim.head = c->x->lim.n = 0;
}

void pk__sup_limit_free(struct child *c)
{
        if (!c->x)
                return;
        free(c->x->lim.starts);
        c->x->lim.starts = NULL;
        c->x->lim.n = 0;
}
