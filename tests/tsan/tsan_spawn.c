/* SPDX-License-Identifier: MIT */
/* ThreadSanitizer program (Criterion crashes under TSan): 8 threads spawn and
 * reap /bin/true with pipes, directly and through one shared spawn helper, at
 * the same time.  Exits 0, or 1 with a message; TSan reports races itself and
 * fails the run (halt_on_error). */
#include <portkit.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS 8
#define ROUNDS 60

static struct pk_spawn_helper *helper;

static void fail(const char *what, int r)
{
        fprintf(stderr, "tsan_spawn: %s: %s\n", what, pk_strerror(r));
        exit(1);
}

static void *worker(void *arg)
{
        long id = (long)arg;
        for (int i = 0; i < ROUNDS; i++) {
                struct pk_cmd *c;
                int r = pk_cmd_new("/bin/true", &c);
                if (r < 0)
                        fail("pk_cmd_new", r);
                if ((r = pk_cmd_fd_pipe(c, 1, 0)) < 0)
                        fail("pk_cmd_fd_pipe", r);
                struct pk_proc *p;
                r = (id + i) % 2 ? pk_spawn(c, &p, NULL)
                                 : pk_spawn_helper_spawn(helper, c, &p, NULL);
                if (r < 0)
                        fail("spawn", r);
                struct pk_exit ex;
                if ((r = pk_proc_wait(p, -1, &ex)) < 0)
                        fail("pk_proc_wait", r);
                if (!ex.exited || ex.code != 0)
                        fail("child status", -EIO);
                pk_proc_free(p);
                pk_cmd_free(c);
        }
        return NULL;
}

int main(void)
{
        int r = pk_spawn_helper_new(&helper);
        if (r < 0)
                fail("pk_spawn_helper_new", r);
        pthread_t t[THREADS];
        for (long i = 0; i < THREADS; i++)
                if (pthread_create(&t[i], NULL, worker, (void *)i) != 0)
                        fail("pthread_create", -EAGAIN);
        for (int i = 0; i < THREADS; i++)
                pthread_join(t[i], NULL);
        pk_spawn_helper_free(helper);
        puts("tsan_spawn: ok");
        return 0;
}
