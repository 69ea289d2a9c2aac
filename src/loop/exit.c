/* SPDX-License-Identifier: MIT */
/* The one exit shape: how a process ended, decoded from a waitpid() status
 * word or a waitid() siginfo.  Every layer that reaps (the loop's child
 * watchers, spawn's process handle, ports) reports a struct pk_exit built
 * here, so the decoding exists once. */
#include "loop-internal.h"

#include <sys/wait.h>

struct pk_exit pk_exit_from_wait_status(int wstatus)
{
        if (WIFEXITED(wstatus))
                return (struct pk_exit){.exited = 1, .code = WEXITSTATUS(wstatus)};
        if (WIFSIGNALED(wstatus))
                return (struct pk_exit){.code = -1,
                                        .signal = WTERMSIG(wstatus),
                                        .core_dumped = WCOREDUMP(wstatus) ? 1 : 0};
        return (struct pk_exit){.code = -1};
}

struct pk_exit pk_exit_from_siginfo(const siginfo_t *si)
{
        if (!si)
                return (struct pk_exit){.code = -1};
        switch (si->si_code) {
        case CLD_EXITED:
                return (struct pk_exit){.exited = 1, .code = si->si_status & 0xff};
        case CLD_KILLED:
                return (struct pk_exit){.code = -1, .signal = si->si_status};
        case CLD_DUMPED:
                return (struct pk_exit){.code = -1, .signal = si->si_status, .core_dumped = 1};
        default:
                return (struct pk_exit){.code = -1};
        }
}

int pk_exit_shell(const struct pk_exit *e)
{
        if (!e)
                return -1;
        if (e->exited)
                return e->code;
        if (e->signal > 0)
                return 128 + e->signal;
        return -1;
}
