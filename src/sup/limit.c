/* SPDX-License-Identifier: MIT */
/* A child's own restart policy: the backoff parameters that override the
 * supervisor's (systemd's per-unit RestartSec= and RestartMaxDelaySec=) and a
 * per-child start limit (StartLimitIntervalSec=/StartLimitBurst=) kept as a
 * ring of recent start times.  The policy engine (sup.c) asks here; nothing
 * here arms timers or emits events. */
#include "sup-internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEF_START_LIMIT_INTERVAL_MS 10000
#define MAX_LIMIT_MS (INT64_C(1) << 40) /* as sup.c's MAX_DURATION_MS */
#define MAX_START_LIMIT_BURST 100000
#define MAX_BACKOFF_STEPS 100000
#define RESTART_ON_ALL                                                                             \
        (PK_SUP_RESTART_ON_CLEAN | PK_SUP_RESTART_ON_CODE | PK_SUP_RESTART_ON_SIGNAL |             \
         PK_SUP_RESTART_ON_TIMEOUT | PK_SUP_RESTART_ON_WATCHDOG)

int pk__sup_limit_apply(struct child *c, const struct pk_sup_child_spec *sp)
{
        if (sp->backoff_base_ms > MAX_LIMIT_MS || sp->backoff_cap_ms < 0 ||
            sp->backoff_cap_ms > MAX_LIMIT_MS || sp->backoff_reset_ms > MAX_LIMIT_MS ||
            sp->jitter_pct > 100 || sp->start_limit_burst < 0 ||
            sp->start_limit_burst > MAX_START_LIMIT_BURST || sp->start_limit_interval_ms < 0 ||
            sp->start_limit_interval_ms > MAX_LIMIT_MS || sp->backoff_steps > MAX_BACKOFF_STEPS ||
            (sp->restart_on & ~(unsigned)RESTART_ON_ALL))
                return -EINVAL;
        if (!c->x)
                return 0; /* nothing of its own (sup.c allocates x when a field is set) */
        struct child_limit *l = &c->x->lim;
        l->base_ms = sp->backoff_base_ms;
        l->cap_ms = sp->backoff_cap_ms;
        l->reset_ms = sp->backoff_reset_ms;
        l->jitter_pct = sp->jitter_pct;
        l->steps = sp->backoff_steps;
        l->restart_on = sp->restart_on;
        l->success_signals = sp->success_signals;
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
        sp->backoff_steps = l->steps;
        sp->restart_on = l->restart_on;
        sp->success_signals = l->success_signals;
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
        ret->steps = l->steps;
}

int64_t pk__sup_backoff_at(const struct sup_backoff *b, unsigned k)
{
        if (b->steps > 0) {
                /* systemd's RestartSteps=: r_k = r_0 * (r_n / r_0)^(k / n), a
                 * geometric climb that reaches the cap at step n. */
                if (b->base_ms <= 0 || b->cap_ms <= b->base_ms)
                        return b->base_ms;
                if (k >= b->steps)
                        return b->cap_ms;
                double ratio = (double)b->cap_ms / (double)b->base_ms;
                double d = (double)b->base_ms * pow(ratio, (double)k / (double)b->steps);
                int64_t v = (int64_t)d;
                return v < b->base_ms ? b->base_ms : v > b->cap_ms ? b->cap_ms : v;
        }
        int64_t d = b->base_ms;
        for (unsigned i = 0; i < k && d < b->cap_ms; i++)
                d *= 2;
        return d > b->cap_ms ? b->cap_ms : d;
}

int pk__sup_restart_on(const struct child *c, bool normal, const struct pk_exit *ex, int reason)
{
        unsigned on = limit_of(c)->restart_on;
        if (!on)
                return -1;
        unsigned kind;
        if (reason == PK_SUP_R_WATCHDOG)
                kind = PK_SUP_RESTART_ON_WATCHDOG;
        else if (reason == PK_SUP_R_START_TIMEOUT)
                kind = PK_SUP_RESTART_ON_TIMEOUT;
        else if (normal)
                kind = PK_SUP_RESTART_ON_CLEAN;
        else if (ex && !ex->exited)
                kind = PK_SUP_RESTART_ON_SIGNAL;
        else
                kind = PK_SUP_RESTART_ON_CODE; /* an exit code, or a spawn that failed */
        return (on & kind) != 0;
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
