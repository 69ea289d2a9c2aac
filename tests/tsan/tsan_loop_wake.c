/* SPDX-License-Identifier: MIT */
/* ThreadSanitizer program: 8 threads send wake-ups to one loop while its
 * thread runs it; the loop stops once every thread is done and it has seen
 * at least one wake-up after that.  Exits 0, or 1 with a message. */
#include <portkit.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS 8
#define SENDS 20000

static atomic_int done_threads;
static struct pk_loop_wake wake;

static void fail(const char *what, int r)
{
        fprintf(stderr, "tsan_loop_wake: %s: %s\n", what, pk_strerror(r));
        exit(1);
}

static void on_wake(struct pk_loop_wake *w)
{
        int *calls = w->w.ctx;
        (*calls)++;
        if (atomic_load(&done_threads) == THREADS)
                pk_loop_stop(w->w.loop);
}

static void *sender(void *arg)
{
        (void)arg;
        for (int i = 0; i < SENDS; i++) {
                int r = pk_loop_wake_send(&wake);
                if (r < 0)
                        fail("pk_loop_wake_send", r);
        }
        atomic_fetch_add(&done_threads, 1);
        int r = pk_loop_wake_send(&wake); /* the one after the last count */
        if (r < 0)
                fail("pk_loop_wake_send", r);
        return NULL;
}

int main(void)
{
        struct pk_loop *loop;
        int r = pk_loop_new(&loop);
        if (r < 0)
                fail("pk_loop_new", r);
        int calls = 0;
        pk_loop_wake_init(loop, &wake);
        wake.w.ctx = &calls;
        if ((r = pk_loop_wake_start(&wake, on_wake)) < 0)
                fail("pk_loop_wake_start", r);
        pthread_t t[THREADS];
        for (int i = 0; i < THREADS; i++)
                if (pthread_create(&t[i], NULL, sender, NULL) != 0)
                        fail("pthread_create", -EAGAIN);
        r = pk_loop_run(loop);
        for (int i = 0; i < THREADS; i++)
                pthread_join(t[i], NULL);
        if (r != PK_LOOP_STOPPED)
                fail("pk_loop_run did not stop", -EIO);
        if (calls < 1)
                fail("no wake-up callback", -EIO);
        pk_loop_free(loop);
        printf("tsan_loop_wake: ok (%d callbacks)\n", calls);
        return 0;
}
