/* SPDX-License-Identifier: MIT */
/* `portkit wrap [OPTIONS] -- PROG ARGS...`: the port program behind the
 * Erlang and Elixir applications.  The VM opens it with {packet,4} and
 * speaks a small ETF protocol (docs/erlang.md): stdin data, half-close,
 * signals, stop and window acks in; stdout and stderr apart, the exit as soon
 * as the child is reaped, and errors out.  Whatever ends the conversation
 * (stop, stdin EOF, EPIPE, our parent's death, the child's exit) ends the
 * child's whole tree: stop signal, grace period, SIGKILL; wrap exits only
 * once the tree is gone.  --transparent passes bytes through unchanged and
 * keeps only the orphan protection. */
#include "cli.h"
#include "common/dynbuf.h"
#include "wrap.h"

#include <portkit.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static const char wrap_usage[] =
    "usage: portkit wrap [OPTIONS] -- PROG [ARGS...]\n"
    "\n"
    "The port program the Erlang/Elixir applications open with\n"
    "open_port({spawn_executable, Portkit}, [{packet,4}, binary, exit_status, ...]).\n"
    "Speaks the ETF protocol of docs/erlang.md on stdin/stdout, or with\n"
    "--transparent passes bytes through unchanged.  The child's whole tree dies\n"
    "when the port closes, its owner dies or the VM dies.\n"
    "\n"
    "options:\n"
    "  --transparent         no protocol: stdin/stdout pass through, stderr is inherited\n"
    "  --stream | --line L | --packet N\n"
    "                        how the child's output is cut into messages (default stream);\n"
    "                        with --packet, stdin data gets an N-byte header too\n"
    "  --stderr MODE         separate (default), stdout (merged), null, inherit\n"
    "  --window BYTES        unacknowledged output bytes before wrap stops reading the\n"
    "                        child (default 262144)\n"
    "  --max-message BYTES   largest message (default 64 MiB)\n"
    "  --stop-signal SIG     first signal of the stop sequence (default TERM)\n"
    "  --grace DURATION      time between the stop signal and SIGKILL (default 5s)\n"
    "  --no-cgroup           use the process group + subreaper even if a cgroup can be made\n"
    "  --memory-max V | --pids-max V | --cpu-max V\n"
    "                        cgroup v2 limits (error when the controller is unavailable)\n"
    "  --cwd DIR, --env K=V, --unset K, --clear-env, --user U, --group G,\n"
    "  --umask OCTAL, --nice N, --rlimit NAME=SOFT[:HARD], --argv0 NAME\n"
    "                        as in `portkit run`\n";

#define WRAP_READ_CHUNK ((size_t)64 << 10)
/* The child's output is read in pieces of up to this (from pipes grown to it
 * when the kernel allows): fewer, larger messages cost the VM less. */
#define WRAP_OUT_CHUNK ((size_t)1 << 20)
#define WRAP_DRAIN_MAX ((size_t)1 << 20)
/* Reads of at least this much switch a source to splice (source_splice);
 * fewer bytes waiting switch it back: small messages cost one read and one
 * writev, large ones a write of the frame's head and a splice. */
#define WRAP_SPLICE_MIN ((size_t)32 << 10)
#define WRAP_STDIN_MAX ((size_t)64 << 20)
#define WRAP_POLL_MS 20
/* {stdin_ack, N} goes out once this many stdin bytes are done, or at once
 * when the VM asks (ack_stdin), so a window smaller than this never stalls. */
#define WRAP_STDIN_ACK_BATCH ((size_t)64 << 10)

enum stderr_mode { ERR_SEPARATE, ERR_STDOUT, ERR_NULL, ERR_INHERIT };
enum phase { RUNNING, STOPPING, KILLING };

/* A byte queue towards one descriptor, with a hard cap.  Not a dynbuf: it
 * sends from head without moving bytes, and a refused append is not sticky
 * (the dynbuf's growth policy, pk__mem_grow, is shared). */
struct queue {
        uint8_t *data;
        size_t head, len, cap, max;
};

struct wrap;

/* One of the child's output pipes. */
struct source {
        struct wrap *w;
        const char *tag; /* "stdout" or "stderr" */
        int fd;
        struct pk_loop_io io;
        unsigned events;
        struct pk_deframer *def;
        bool eof;
        bool bulk;     /* a recent read was large: try splice next (source_splice) */
        uint8_t small; /* source_splice found little waiting this many times in a row */
};

struct wrap {
        struct pk_loop *loop;
        bool transparent;
        bool vm_pipe; /* stdout is a pipe: output may be spliced into it */
        size_t vm_pipe_size;
        struct pk_framing framing;
        enum stderr_mode err_mode;
        size_t window, unacked;
        size_t in_done; /* stdin bytes written to the child or dropped, not yet acknowledged */
        bool ack_asked; /* the VM waits for {stdin_ack, _}: send it as soon as in_done > 0 */
        int stop_signal;
        int64_t grace_ms;
        struct wrap_tree tree;
        struct pk_proc *proc;
        pid_t pid;

        struct pk_loop_io vm_in, vm_out, ch_in;
        unsigned vm_in_ev, vm_out_ev, ch_in_ev;
        int ch_in_fd;
        bool close_stdin; /* the VM asked for a half-close */
        struct source out, err;
        struct pk_deframer *cmd_def; /* {packet,4} commands from the VM */
        pk_arena *arena;
        struct queue to_vm, to_child;
        struct pk_etf_buf msg;

        struct pk_loop_child child_w;
        struct pk_loop_signal sigs[4], chld;
        struct pk_loop_timer grace_t, poll_t;

        bool exited;
        struct pk_exit st;
        bool vm_gone;   /* stdin EOF or EPIPE: nobody listens any more */
        bool vm_in_eof; /* transparent mode: stdin at EOF, stdout maybe still read */
        bool tree_gone;
        bool done_sent;
        enum phase phase;
        int fail; /* a system error that ends wrap */
};

static void vm_gone(struct wrap *w);

/* ---- queues ------------------------------------------------------------ */

/* Makes room for n more bytes at q->data + q->len (within q->max). */
static int q_reserve(struct queue *q, size_t n)
{
        if (q->head > 0 && q->head == q->len)
                q->head = q->len = 0;
        if (q->len - q->head + n > q->max)
                return -ENOBUFS;
        if (q->len + n > q->cap) {
                if (q->head > 0) {
                        memmove(q->data, q->data + q->head, q->len - q->head);
                        q->len -= q->head;
                        q->head = 0;
                }
                void *d = q->data;
                if (pk__mem_grow(&d, &q->cap, q->len + n, SIZE_MAX, 4096) < 0)
                        return -ENOMEM;
                q->data = d;
        }
        return 0;
}

static int q_append(struct queue *q, const void *p, size_t n)
{
        int r = q_reserve(q, n);
        if (r < 0)
                return r;
        memcpy(q->data + q->len, p, n);
        q->len += n;
        return 0;
}

static size_t q_pending(const struct queue *q)
{
        return q->len - q->head;
}

/* Writes what it can; returns 0, -EAGAIN-free, or the write's errno. */
static int q_flush(struct queue *q, int fd)
{
        while (q->head < q->len) {
                ssize_t n = write(fd, q->data + q->head, q->len - q->head);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return errno == EAGAIN ? 0 : -errno;
                q->head += (size_t)n;
        }
        q->head = q->len = 0;
        return 0;
}

static void q_clear(struct queue *q)
{
        q->head = q->len = 0;
}

/* ---- messages to the VM ------------------------------------------------ */

/* Frames the term in w->msg ({packet,4}) onto the VM queue. */
static void send_msg(struct wrap *w)
{
        if (w->vm_gone || w->transparent)
                return;
        if (w->msg.err) {
                w->fail = w->msg.err;
                return;
        }
        uint8_t hdr[4] = {(uint8_t)(w->msg.len >> 24), (uint8_t)(w->msg.len >> 16),
                          (uint8_t)(w->msg.len >> 8), (uint8_t)w->msg.len};
        int r = q_append(&w->to_vm, hdr, 4);
        if (r == 0)
                r = q_append(&w->to_vm, w->msg.data, w->msg.len);
        if (r < 0)
                w->fail = r;
}

static void put_atom(struct pk_etf_buf *b, const char *name)
{
        pk_etf_put_atom(b, name, strlen(name));
}

/* Counts n stdin bytes (framing header included) as done: written to the
 * child, or dropped because its stdin is closed.  The VM side holds back
 * further data until they are acknowledged (docs/erlang.md, flow control):
 * {stdin_ack, N} goes out once WRAP_STDIN_ACK_BATCH bytes are done, or as
 * soon as any are once the VM asked (ack_stdin: its window is full), so a
 * small write costs no message back. */
static void stdin_consumed(struct wrap *w, size_t n)
{
        w->in_done += n;
        if (w->transparent || w->in_done == 0)
                return;
        if (w->in_done < WRAP_STDIN_ACK_BATCH && !w->ack_asked)
                return;
        pk_etf_buf_reset(&w->msg);
        pk_etf_put_version(&w->msg);
        pk_etf_put_tuple(&w->msg, 2);
        put_atom(&w->msg, "stdin_ack");
        pk_etf_put_uint(&w->msg, w->in_done);
        send_msg(w);
        w->in_done = 0;
        w->ack_asked = false;
}

/* An errno or PK_E code as an Erlang atom: enoent, pk_edepth. */
static void put_errno(struct pk_etf_buf *b, int err)
{
        const char *n = pk_strerror_name(err);
        char low[64];
        size_t i = 0;
        for (; n && n[i] && i < sizeof(low) - 1; i++)
                low[i] = (char)tolower((unsigned char)n[i]);
        low[i] = '\0';
        put_atom(b, i ? low : "unknown");
}

/* Builds in w->msg the {packet,4} header and the term's head of {Tag, Payload}
 * (or {Tag, {eol | noeol, Payload}}) for a payload of `len` bytes: the head
 * ends with BINARY_EXT's length, so the payload's bytes follow as they are
 * and the frame is one valid term.  0, or -1 with w->fail set. */
static int data_head(struct wrap *w, const char *tag, unsigned flags, size_t len)
{
        struct pk_etf_buf *b = &w->msg;
        pk_etf_buf_reset(b);
        pk_etf_buf_append(b, "\0\0\0\0", 4); /* the {packet,4} header, filled below */
        pk_etf_put_version(b);
        pk_etf_put_tuple(b, 2);
        put_atom(b, tag);
        if (flags) {
                pk_etf_put_tuple(b, 2);
                put_atom(b, flags & PK_PACKET_EOL ? "eol" : "noeol");
        }
        uint8_t bin[5] = {109, (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                          (uint8_t)len}; /* BINARY_EXT */
        pk_etf_buf_append(b, bin, sizeof(bin));
        if (b->err) {
                w->fail = b->err;
                return -1;
        }
        size_t total = b->len - 4 + len;
        b->data[0] = (uint8_t)(total >> 24);
        b->data[1] = (uint8_t)(total >> 16);
        b->data[2] = (uint8_t)(total >> 8);
        b->data[3] = (uint8_t)total;
        return 0;
}

/* Sends {Tag, Payload} without copying the payload when the VM's queue is
 * empty: the head (data_head) and the payload go in one writev(); only what
 * the pipe did not take is queued. */
static void send_data(struct wrap *w, const char *tag, const struct pk_packet_msg *m)
{
        w->unacked += m->len;
        if (w->vm_gone)
                return;
        if (data_head(w, tag, m->flags, m->len) < 0)
                return;
        struct pk_etf_buf *b = &w->msg;
        size_t done = 0;
        if (q_pending(&w->to_vm) == 0) {
                struct iovec iov[2] = {{b->data, b->len}, {(void *)(uintptr_t)m->data, m->len}};
                ssize_t n;
                do
                        n = writev(1, iov, m->len ? 2 : 1);
                while (n < 0 && errno == EINTR);
                if (n < 0 && errno != EAGAIN) {
                        vm_gone(w);
                        return;
                }
                done = n > 0 ? (size_t)n : 0;
        }
        int r = 0;
        if (done < b->len)
                r = q_append(&w->to_vm, b->data + done, b->len - done);
        size_t off = done > b->len ? done - b->len : 0;
        if (r == 0 && off < m->len)
                r = q_append(&w->to_vm, m->data + off, m->len - off);
        if (r < 0)
                w->fail = r;
}

/* ---- signals by name --------------------------------------------------- */

static const struct {
        const char *name;
        int sig;
} signames[] = {
    {"hup", SIGHUP},       {"int", SIGINT},   {"quit", SIGQUIT},   {"ill", SIGILL},
    {"trap", SIGTRAP},     {"abrt", SIGABRT}, {"bus", SIGBUS},     {"fpe", SIGFPE},
    {"kill", SIGKILL},     {"usr1", SIGUSR1}, {"segv", SIGSEGV},   {"usr2", SIGUSR2},
    {"pipe", SIGPIPE},     {"alrm", SIGALRM}, {"term", SIGTERM},   {"chld", SIGCHLD},
    {"cont", SIGCONT},     {"stop", SIGSTOP}, {"tstp", SIGTSTP},   {"ttin", SIGTTIN},
    {"ttou", SIGTTOU},     {"urg", SIGURG},   {"xcpu", SIGXCPU},   {"xfsz", SIGXFSZ},
    {"vtalrm", SIGVTALRM}, {"prof", SIGPROF}, {"winch", SIGWINCH}, {"io", SIGIO},
    {"pwr", SIGPWR},       {"sys", SIGSYS},
};

/* "TERM", "SIGTERM", "term" or a number; 0 if unknown. */
static int sig_by_name(const char *s, size_t len)
{
        if (len > 3 && strncasecmp(s, "SIG", 3) == 0) {
                s += 3;
                len -= 3;
        }
        for (size_t i = 0; i < sizeof(signames) / sizeof(signames[0]); i++)
                if (strlen(signames[i].name) == len && strncasecmp(signames[i].name, s, len) == 0)
                        return signames[i].sig;
        char num[16];
        if (len == 0 || len >= sizeof(num))
                return 0;
        memcpy(num, s, len);
        num[len] = '\0';
        long long v;
        if (pk_cli_parse_int(num, 1, SIGRTMAX, &v) < 0)
                return 0;
        return (int)v;
}

static const char *sig_name(int sig)
{
        for (size_t i = 0; i < sizeof(signames) / sizeof(signames[0]); i++)
                if (signames[i].sig == sig)
                        return signames[i].name;
        return NULL;
}

/* ---- the stop sequence ------------------------------------------------- */

static void sync_io(struct wrap *w);
static void check_vm_out(struct wrap *w);

static void on_grace(struct pk_loop_timer *t)
{
        struct wrap *w = t->w.ctx;
        w->phase = KILLING;
        if (!w->exited)
                pk_proc_signal(w->proc, SIGKILL);
        wrap_tree_kill(&w->tree);
        sync_io(w);
}

static void close_child_stdin(struct wrap *w)
{
        if (w->ch_in_fd < 0)
                return;
        pk_loop_io_stop(&w->ch_in);
        w->ch_in_ev = 0;
        close(pk_proc_take_fd(w->proc, 0));
        w->ch_in_fd = -1;
        size_t dropped = q_pending(&w->to_child);
        q_clear(&w->to_child);
        stdin_consumed(w, dropped);
}

/* Starts the stop sequence (once): stop signal to the whole tree, then
 * SIGKILL after the grace period.  Idempotent. */
static void begin_stop(struct wrap *w)
{
        if (w->phase != RUNNING || w->tree_gone)
                return;
        w->phase = STOPPING;
        if (!w->transparent || w->vm_gone)
                close_child_stdin(w);
        if (!w->exited)
                pk_proc_signal(w->proc, w->stop_signal);
        wrap_tree_signal(&w->tree, w->stop_signal);
        /* A stopped process would not act on TERM until continued. */
        if (w->stop_signal != SIGKILL)
                wrap_tree_signal(&w->tree, SIGCONT);
        if (w->grace_ms > 0)
                pk_loop_timer_start(&w->grace_t, w->grace_ms, 0, on_grace);
        else
                on_grace(&w->grace_t);
}

static void vm_gone(struct wrap *w)
{
        if (w->vm_gone)
                return;
        w->vm_gone = true;
        q_clear(&w->to_vm);
        begin_stop(w);
}

/* ---- the child's output ------------------------------------------------ */

/* Reads once from a source (at most `room` bytes) and deframes. */
static int source_read(struct wrap *w, struct source *s, size_t room)
{
        void *p;
        size_t len;
        int r = pk_deframer_space(s->def, room < WRAP_OUT_CHUNK ? room : WRAP_OUT_CHUNK, &p, &len);
        if (r < 0)
                return r;
        if (len > room)
                len = room;
        ssize_t n;
        do
                n = read(s->fd, p, len);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return errno == EAGAIN ? -EAGAIN : -errno;
        struct pk_packet_msg m;
        if (n == 0) {
                s->eof = true;
                while (pk_deframer_finish(s->def, &m) == 1)
                        if (w->transparent)
                                q_append(&w->to_vm, m.data, m.len);
                        else
                                send_data(w, s->tag, &m);
                return 0;
        }
        pk_deframer_commit(s->def, (size_t)n);
        /* A large read: the next may go by splice (stream mode only, where a
         * read is a message and the deframer keeps nothing back).  Only
         * source_splice, finding little waiting, turns it off. */
        if ((size_t)n >= WRAP_SPLICE_MIN && !w->transparent &&
            w->framing.kind == PK_FRAMING_STREAM) {
                s->bulk = true;
                s->small = 0;
        }
        while ((r = pk_deframer_next(s->def, &m)) == 1) {
                if (w->transparent) {
                        if (q_append(&w->to_vm, m.data, m.len) < 0)
                                w->fail = -ENOBUFS;
                } else {
                        send_data(w, s->tag, &m);
                }
        }
        return r < 0 ? r : (int)n;
}

/* Moves n bytes that are known to wait in the source's pipe onto the VM
 * queue (the copying way: what splice did not move). */
static int source_copy(struct wrap *w, struct source *s, size_t n)
{
        int r = q_reserve(&w->to_vm, n);
        if (r < 0)
                return r;
        while (n > 0) {
                ssize_t k = read(s->fd, w->to_vm.data + w->to_vm.len, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return k < 0 ? -errno : -EIO; /* FIONREAD said they were there */
                w->to_vm.len += (size_t)k;
                n -= (size_t)k;
        }
        return 0;
}

/* Stream mode, the VM's side a pipe, nothing queued for it and the source
 * in bulk (its last read was large): one frame whose payload the kernel
 * moves from the child's pipe to the VM's (splice) instead of reading it
 * here and writing it again.  The head is written first; FIONREAD says how
 * many bytes wait (only wrap reads that pipe), so exactly that many follow,
 * bounded by the window's room.  What splice does not move (the VM's pipe
 * full) is read into the VM queue, so the frame is always whole and nothing
 * else can come between its head and its payload.  Returns the payload's
 * length, or 0 when the read path should run instead (at most *read_max
 * bytes when the VM's pipe is short of room). */
static size_t source_splice(struct wrap *w, struct source *s, size_t room, size_t *read_max)
{
        int avail = 0, queued = 0;
        if (ioctl(s->fd, FIONREAD, &avail) < 0 || (size_t)avail < WRAP_SPLICE_MIN) {
                /* Little waiting twice in a row: the child writes small
                 * pieces, which go by read + writev without this ioctl.
                 * (Once is common in bulk: the splice took all there was.) */
                if (++s->small >= 2)
                        s->bulk = false;
                return 0;
        }
        s->small = 0;
        /* Room in the VM's pipe (two pages kept for the head's own slot and
         * a partly filled one): a frame is cut to what fits.  When little
         * fits, the read path runs (its rest waits in the queue, which
         * EPOLLOUT drains as the VM reads): waiting for room instead would
         * spin, a pipe being writable as soon as one slot is free. */
        if (ioctl(1, FIONREAD, &queued) < 0)
                return 0;
        size_t vm_free =
            w->vm_pipe_size > (size_t)queued + 8192 ? w->vm_pipe_size - (size_t)queued - 8192 : 0;
        if (vm_free < WRAP_SPLICE_MIN) {
                *read_max = vm_free + 8192; /* fill the VM's pipe, queue little */
                return 0;
        }
        size_t n = (size_t)avail;
        if (n > room)
                n = room;
        if (n > vm_free)
                n = vm_free;
        if (n > WRAP_OUT_CHUNK)
                n = WRAP_OUT_CHUNK;
        if (data_head(w, s->tag, 0, n) < 0)
                return 0;
        const struct pk_etf_buf *b = &w->msg;
        ssize_t k;
        do
                k = write(1, b->data, b->len);
        while (k < 0 && errno == EINTR);
        if (k < 0 && errno != EAGAIN) {
                vm_gone(w);
                return 0;
        }
        size_t done = k > 0 ? (size_t)k : 0, moved = 0;
        int r = 0;
        if (done < b->len) {
                r = q_append(&w->to_vm, b->data + done, b->len - done);
        } else {
                do
                        k = splice(s->fd, NULL, 1, NULL, n, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
                while (k < 0 && errno == EINTR);
                if (k < 0 && errno != EAGAIN) {
                        vm_gone(w);
                        return 0;
                }
                moved = k > 0 ? (size_t)k : 0;
        }
        if (r == 0 && moved < n)
                r = source_copy(w, s, n - moved);
        if (r < 0)
                w->fail = r;
        w->unacked += n;
        return n;
}

static size_t read_room(const struct wrap *w)
{
        if (w->transparent)
                return q_pending(&w->to_vm) < w->window ? WRAP_OUT_CHUNK : 0;
        if (w->vm_gone)
                return WRAP_OUT_CHUNK; /* drain and discard */
        return w->unacked < w->window ? w->window - w->unacked : 0;
}

static void on_source(struct pk_loop_io *io, unsigned revents)
{
        struct source *s = io->w.ctx;
        struct wrap *w = s->w;
        (void)revents;
        size_t room = read_room(w);
        /* Half a window per read keeps two messages in flight, so the child's
         * next chunk is read while the owner handles the last one. */
        if (!w->transparent && room > w->window / 2 && w->window >= 2)
                room = w->window / 2;
        size_t read_max = room;
        if (room > 0 && !s->eof && s->bulk && w->vm_pipe && !w->vm_gone &&
            q_pending(&w->to_vm) == 0 && source_splice(w, s, room, &read_max) > 0) {
                sync_io(w);
                return;
        }
        if (read_max < room)
                room = read_max;
        if (room > 0 && !s->eof) {
                int r = source_read(w, s, room);
                if (r < 0 && r != -EAGAIN) {
                        if (r == PK_EFRAMESIZE) {
                                /* The child broke its framing: say so, stop it. */
                                pk_etf_buf_reset(&w->msg);
                                pk_etf_put_version(&w->msg);
                                pk_etf_put_tuple(&w->msg, 2);
                                put_atom(&w->msg, "error");
                                pk_etf_put_tuple(&w->msg, 2);
                                put_atom(&w->msg, s->tag);
                                put_errno(&w->msg, r);
                                send_msg(w);
                        }
                        s->eof = true;
                        begin_stop(w);
                }
        }
        sync_io(w);
}

/* After the child's exit: takes what it left in its pipes, ignoring the
 * window (bounded by WRAP_DRAIN_MAX), so that everything the child wrote
 * comes before the exit message. */
static void drain_source(struct wrap *w, struct source *s)
{
        size_t total = 0;
        while (s->fd >= 0 && !s->eof && total < WRAP_DRAIN_MAX) {
                int r = source_read(w, s, WRAP_OUT_CHUNK);
                if (r <= 0)
                        break;
                total += (size_t)r;
        }
}

/* ---- the child's exit -------------------------------------------------- */

static void on_child(struct pk_loop_child *c, int err, const struct pk_exit *st)
{
        struct wrap *w = c->w.ctx;
        w->exited = true;
        w->st = *st;
        if (err == 0)
                pk_proc_set_reaped(w->proc, st);
        if (!w->transparent && !w->vm_gone) {
                drain_source(w, &w->out);
                drain_source(w, &w->err);
                pk_etf_buf_reset(&w->msg);
                pk_etf_put_version(&w->msg);
                if (err < 0) {
                        pk_etf_put_tuple(&w->msg, 2);
                        put_atom(&w->msg, "error");
                        put_errno(&w->msg, err);
                } else if (st->exited) {
                        pk_etf_put_tuple(&w->msg, 2);
                        put_atom(&w->msg, "exit");
                        pk_etf_put_int(&w->msg, st->code);
                } else {
                        pk_etf_put_tuple(&w->msg, 3);
                        put_atom(&w->msg, "signal");
                        const char *n = sig_name(st->signal);
                        if (n)
                                put_atom(&w->msg, n);
                        else
                                pk_etf_put_int(&w->msg, st->signal);
                        put_atom(&w->msg, st->core_dumped ? "true" : "false");
                }
                send_msg(w);
        }
        /* What the child left running goes with it. */
        if (wrap_tree_alive(&w->tree))
                begin_stop(w);
        sync_io(w);
}

/* ---- commands from the VM ---------------------------------------------- */

static void stdin_data(struct wrap *w, const void *p, size_t n)
{
        size_t hl = 0;
        uint8_t hdr[4];
        if (w->framing.kind == PK_FRAMING_PACKET &&
            pk_packet_header(&w->framing, n, hdr, &hl) < 0) {
                stdin_consumed(w, n); /* too long for the header: dropped */
                return;
        }
        if (w->ch_in_fd < 0 || w->close_stdin) {
                /* The child's stdin is closed: data has nowhere to go. */
                stdin_consumed(w, hl + n);
                return;
        }
        if (hl) {
                if (q_append(&w->to_child, hdr, hl) < 0)
                        goto full;
        }
        if (q_append(&w->to_child, p, n) < 0)
                goto full;
        return;
full:
        pk_etf_buf_reset(&w->msg);
        pk_etf_put_version(&w->msg);
        pk_etf_put_tuple(&w->msg, 2);
        put_atom(&w->msg, "error");
        put_atom(&w->msg, "stdin_overflow");
        send_msg(w);
        begin_stop(w);
}

static void command(struct wrap *w, const uint8_t *p, size_t n)
{
        pk_arena_reset(w->arena);
        struct pk_term *t;
        struct pk_etf_decode_opts o = {.flags = PK_ETF_NO_FUNS};
        if (pk_etf_decode(w->arena, p, n, &o, &t, NULL, NULL) < 0)
                goto bad;
        const uint8_t *bin;
        size_t blen;
        const char *name;
        size_t nlen;
        uint64_t u;
        int64_t i;
        if (pk_etf_unpack(t, "{stdin, ~b}", &bin, &blen) == 0) {
                stdin_data(w, bin, blen);
        } else if (pk_etf_unpack(t, "ack_stdin") == 0) {
                w->ack_asked = true;
                stdin_consumed(w, 0);
        } else if (pk_etf_unpack(t, "close_stdin") == 0) {
                w->close_stdin = true;
        } else if (pk_etf_unpack(t, "{ack, ~u}", &u) == 0) {
                w->unacked = u >= w->unacked ? 0 : w->unacked - u;
        } else if (pk_etf_unpack(t, "stop") == 0) {
                /* A second stop skips the rest of the grace period. */
                if (w->phase == STOPPING) {
                        pk_loop_timer_stop(&w->grace_t);
                        on_grace(&w->grace_t);
                }
                begin_stop(w);
        } else if (pk_etf_unpack(t, "{signal, ~a}", &name, &nlen) == 0) {
                int sig = sig_by_name(name, nlen);
                if (!sig)
                        goto bad;
                if (!w->exited)
                        pk_proc_signal(w->proc, sig);
        } else if (pk_etf_unpack(t, "{signal, ~i}", &i) == 0) {
                if (i < 1 || i > SIGRTMAX)
                        goto bad;
                if (!w->exited)
                        pk_proc_signal(w->proc, (int)i);
        } else {
                goto bad;
        }
        return;
bad:
        pk_etf_buf_reset(&w->msg);
        pk_etf_put_version(&w->msg);
        pk_etf_put_tuple(&w->msg, 2);
        put_atom(&w->msg, "error");
        put_atom(&w->msg, "bad_command");
        send_msg(w);
}

static void on_vm_in(struct pk_loop_io *io, unsigned revents)
{
        struct wrap *w = io->w.ctx;
        (void)revents;
        if (w->transparent) {
                if (q_pending(&w->to_child) >= WRAP_STDIN_MAX)
                        goto out;
                uint8_t buf[WRAP_READ_CHUNK];
                ssize_t n = read(0, buf, sizeof(buf));
                if (n > 0 && w->ch_in_fd >= 0 && q_append(&w->to_child, buf, (size_t)n) < 0)
                        w->fail = -ENOMEM;
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                        /* The child gets its EOF once its input is written.
                         * Whether the port is closed (Erlang has no half-close)
                         * shows on stdout, which on_poll watches from now on. */
                        pk_loop_io_stop(&w->vm_in);
                        w->vm_in_ev = 0;
                        w->close_stdin = true;
                        w->vm_in_eof = true;
                        check_vm_out(w);
                }
                goto out;
        }
        void *p;
        size_t len;
        int r = pk_deframer_space(w->cmd_def, 0, &p, &len);
        if (r < 0) {
                w->fail = r;
                goto out;
        }
        ssize_t n = read(0, p, len);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                goto out;
        if (n <= 0) {
                pk_loop_io_stop(&w->vm_in);
                w->vm_in_ev = 0;
                vm_gone(w);
                goto out;
        }
        pk_deframer_commit(w->cmd_def, (size_t)n);
        struct pk_packet_msg m;
        while ((r = pk_deframer_next(w->cmd_def, &m)) == 1)
                command(w, m.data, m.len);
        if (r < 0) {
                pk_loop_io_stop(&w->vm_in);
                w->vm_in_ev = 0;
                vm_gone(w);
        }
out:
        sync_io(w);
}

static void on_vm_out(struct pk_loop_io *io, unsigned revents)
{
        struct wrap *w = io->w.ctx;
        (void)revents;
        if (q_flush(&w->to_vm, 1) < 0)
                vm_gone(w);
        sync_io(w);
}

/* Writes what it can of the child's stdin queue. */
static void child_in_flush(struct wrap *w)
{
        size_t before = q_pending(&w->to_child);
        int r = q_flush(&w->to_child, w->ch_in_fd);
        stdin_consumed(w, before - q_pending(&w->to_child));
        if (r < 0) {
                /* The child closed its stdin (EPIPE): data has nowhere to go. */
                close_child_stdin(w);
        }
}

static void on_ch_in(struct pk_loop_io *io, unsigned revents)
{
        struct wrap *w = io->w.ctx;
        (void)revents;
        child_in_flush(w);
        sync_io(w);
}

static void on_signal(struct pk_loop_signal *s, const struct pk_loop_siginfo *info)
{
        struct wrap *w = s->w.ctx;
        (void)info;
        /* Our parent died (PDEATHSIG) or someone asked us to end. */
        vm_gone(w);
        sync_io(w);
}

/* Transparent mode after stdin EOF: the VM has closed the port (or died)
 * once the read end of our stdout is gone, which poll() reports as POLLERR. */
static void check_vm_out(struct wrap *w)
{
        struct pollfd p = {.fd = 1, .events = 0};
        if (poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP | POLLNVAL)))
                vm_gone(w);
}

static void on_sigchld(struct pk_loop_signal *s, const struct pk_loop_siginfo *info)
{
        struct wrap *w = s->w.ctx;
        (void)info;
        wrap_tree_reap_orphans(&w->tree);
        sync_io(w);
}

static void on_poll(struct pk_loop_timer *t)
{
        struct wrap *w = t->w.ctx;
        if (w->vm_in_eof && !w->vm_gone)
                check_vm_out(w);
        if (w->phase == KILLING)
                wrap_tree_kill(&w->tree);
        sync_io(w);
}

static void set_io(struct pk_loop_io *io, unsigned *cur, unsigned want, pk_loop_io_cb cb)
{
        if (want == *cur)
                return;
        if (want)
                pk_loop_io_start(io, want, cb);
        else
                pk_loop_io_stop(io);
        *cur = want;
}

/* Brings every watcher in line with the state, and ends the loop when done. */
static void sync_io(struct wrap *w)
{
        /* The child's stdin: written at once while the pipe takes it, so a
         * message costs one write and no watcher change; EPOLLOUT only for
         * what the pipe refused. */
        if (w->ch_in_fd >= 0 && !w->ch_in_ev && q_pending(&w->to_child))
                child_in_flush(w);
        if (w->ch_in_fd >= 0) {
                if (q_pending(&w->to_child) == 0 && w->close_stdin)
                        close_child_stdin(w);
                else
                        set_io(&w->ch_in, &w->ch_in_ev, q_pending(&w->to_child) ? PK_LOOP_WRITE : 0,
                               on_ch_in);
        }
        /* The VM's side. */
        if (!w->vm_gone) {
                if (q_pending(&w->to_vm) && q_flush(&w->to_vm, 1) < 0)
                        vm_gone(w);
                set_io(&w->vm_out, &w->vm_out_ev,
                       !w->vm_gone && q_pending(&w->to_vm) ? PK_LOOP_WRITE : 0, on_vm_out);
        }
        /* Child output, while there is room for it and, when the VM's side
         * is a pipe, nothing waits for it: while the VM is slow the bytes
         * stay in the child's pipe (to be spliced later) instead of being
         * read into the queue. */
        size_t room = read_room(w);
        if (w->vm_pipe && !w->vm_gone && q_pending(&w->to_vm) > 0)
                room = 0;
        struct source *srcs[2] = {&w->out, &w->err};
        for (int k = 0; k < 2; k++) {
                struct source *s = srcs[k];
                if (s->fd < 0)
                        continue;
                set_io(&s->io, &s->events, !s->eof && room > 0 ? PK_LOOP_READ : 0, on_source);
        }
        /* The tree, once the child is gone. */
        if (w->exited && !w->tree_gone && !wrap_tree_alive(&w->tree)) {
                w->tree_gone = true;
                pk_loop_timer_stop(&w->grace_t);
                pk_loop_timer_stop(&w->poll_t);
        }
        if ((w->phase != RUNNING || w->exited || (w->vm_in_eof && !w->vm_gone)) && !w->tree_gone &&
            !pk_loop_is_active(&w->poll_t.w))
                pk_loop_timer_start(&w->poll_t, WRAP_POLL_MS, WRAP_POLL_MS, on_poll);
        bool drained = (w->out.fd < 0 || w->out.eof) && (w->err.fd < 0 || w->err.eof);
        bool finished = w->exited && w->tree_gone && (w->vm_gone || drained);
        /* In protocol mode `done` says nothing more will come, and wrap waits
         * for the VM to close the port: exiting first would make the VM's next
         * write (an ack) fail with EPIPE and the port drop unread output. */
        if (finished && !w->transparent && !w->vm_gone && !w->done_sent) {
                w->done_sent = true;
                pk_etf_buf_reset(&w->msg);
                pk_etf_put_version(&w->msg);
                put_atom(&w->msg, "done");
                send_msg(w);
                if (q_pending(&w->to_vm) && q_flush(&w->to_vm, 1) < 0)
                        vm_gone(w);
                set_io(&w->vm_out, &w->vm_out_ev,
                       !w->vm_gone && q_pending(&w->to_vm) ? PK_LOOP_WRITE : 0, on_vm_out);
        }
        /* The empty cgroup goes once `done` is on its way: the VM need not
         * wait for the rmdir (a cgroup's is slow, ~0.2 ms). */
        if (w->tree_gone && (finished || w->vm_gone))
                wrap_tree_destroy(&w->tree);
        bool flushed = w->vm_gone || q_pending(&w->to_vm) == 0;
        if (w->fail || (finished && flushed && (w->transparent || w->vm_gone)))
                pk_loop_stop(w->loop);
}

/* ---- options ----------------------------------------------------------- */

/* Reports a startup failure: an error term to the VM (protocol mode) and a
 * line on stderr.  `what` names the option or step; `why` is an atom. */
static void startup_error(struct wrap *w, const char *kind, const char *what, const char *why,
                          int err)
{
        /* In protocol mode the term is the report: the VM's stderr stays quiet. */
        if (w->transparent || isatty(1)) {
                pk_cli_error("wrap", "%s %s: %s", kind, what, err ? pk_strerror(err) : why);
                if (w->transparent)
                        return;
        }
        struct pk_etf_buf b;
        pk_etf_buf_init(&b, 1 << 20);
        pk_etf_put_version(&b);
        pk_etf_put_tuple(&b, 2);
        put_atom(&b, "error");
        pk_etf_put_tuple(&b, 3);
        put_atom(&b, kind);
        if (strcmp(kind, "option") == 0)
                pk_etf_put_binary(&b, what, strlen(what));
        else
                put_atom(&b, what);
        if (err)
                put_errno(&b, err);
        else
                put_atom(&b, why);
        if (!b.err) {
                uint8_t hdr[4] = {(uint8_t)(b.len >> 24), (uint8_t)(b.len >> 16),
                                  (uint8_t)(b.len >> 8), (uint8_t)b.len};
                (void)pk_fd_write_all(1, hdr, 4, NULL);
                (void)pk_fd_write_all(1, b.data, b.len, NULL);
        }
        pk_etf_buf_free(&b);
}

struct limit {
        const char *file;
        const char *value;
};

/* Applies one option; 1 if it took the value, 0 if not, < 0 on error
 * (*why names the reason when it is not an errno). */
static int apply_option(struct wrap *w, struct pk_cmd *c, struct limit *limits, int *n_limits,
                        bool *no_cgroup, const char *o, const char *val, const char **why)
{
        *why = "badarg";
        if (strcmp(o, "--transparent") == 0) {
                w->transparent = true;
                return 0;
        }
        if (strcmp(o, "--clear-env") == 0)
                return pk_cmd_env_clear(c) < 0 ? -ENOMEM : 0;
        if (strcmp(o, "--no-cgroup") == 0) {
                *no_cgroup = true;
                return 0;
        }
        if (strcmp(o, "--stream") == 0) {
                w->framing.kind = PK_FRAMING_STREAM;
                w->framing.arg = 0;
                return 0;
        }
        if (!val) {
                *why = "missing_value";
                return -EINVAL;
        }
        long long v;
        int r;
        if (strcmp(o, "--line") == 0 || strcmp(o, "--packet") == 0) {
                char *args[2] = {(char *)(uintptr_t)o, (char *)(uintptr_t)val};
                int i = 0;
                r = pk_framing_option(2, args, &i, &w->framing);
                return r == 1 ? 1 : -EINVAL;
        }
        if (strcmp(o, "--stderr") == 0) {
                if (strcmp(val, "separate") == 0)
                        w->err_mode = ERR_SEPARATE;
                else if (strcmp(val, "stdout") == 0)
                        w->err_mode = ERR_STDOUT;
                else if (strcmp(val, "null") == 0)
                        w->err_mode = ERR_NULL;
                else if (strcmp(val, "inherit") == 0)
                        w->err_mode = ERR_INHERIT;
                else
                        return -EINVAL;
                return 1;
        }
        if (strcmp(o, "--window") == 0) {
                if (pk_cli_parse_int(val, 1, 1LL << 40, &v) < 0)
                        return -EINVAL;
                w->window = (size_t)v;
                return 1;
        }
        if (strcmp(o, "--max-message") == 0) {
                if (pk_cli_parse_int(val, 1, 1LL << 32, &v) < 0)
                        return -EINVAL;
                w->framing.max_message = (size_t)v;
                return 1;
        }
        if (strcmp(o, "--stop-signal") == 0) {
                w->stop_signal = sig_by_name(val, strlen(val));
                return w->stop_signal ? 1 : -EINVAL;
        }
        if (strcmp(o, "--grace") == 0)
                return pk_cli_parse_duration(val, &w->grace_ms) < 0 ? -EINVAL : 1;
        if (strcmp(o, "--memory-max") == 0 || strcmp(o, "--pids-max") == 0 ||
            strcmp(o, "--cpu-max") == 0) {
                if (*n_limits >= 3 || !*val || strchr(val, '\n'))
                        return -EINVAL;
                limits[*n_limits].file = strcmp(o, "--memory-max") == 0 ? "memory.max"
                                         : strcmp(o, "--pids-max") == 0 ? "pids.max"
                                                                        : "cpu.max";
                limits[(*n_limits)++].value = val;
                return 1;
        }
        if (strcmp(o, "--cwd") == 0)
                r = pk_cmd_cwd(c, val);
        else if (strcmp(o, "--env") == 0) {
                int kl = pk_cli_env_key_len(val);
                if (kl < 0)
                        return -EINVAL;
                char *k = strndup(val, (size_t)kl);
                r = k ? pk_cmd_env_set(c, k, val + kl + 1) : -ENOMEM;
                free(k);
        } else if (strcmp(o, "--unset") == 0)
                r = pk_cmd_env_unset(c, val);
        else if (strcmp(o, "--user") == 0) {
                r = pk_cmd_user(c, val);
                if (r == PK_ENOUSER)
                        *why = "no_such_user";
        } else if (strcmp(o, "--group") == 0) {
                r = pk_cmd_group(c, val);
                if (r == PK_ENOGROUP)
                        *why = "no_such_group";
        } else if (strcmp(o, "--umask") == 0) {
                unsigned m;
                r = pk_cli_parse_umask(val, &m) == 0 ? pk_cmd_umask(c, (mode_t)m) : -EINVAL;
        } else if (strcmp(o, "--nice") == 0) {
                r = pk_cli_parse_int(val, -20, 19, &v);
                if (r == 0)
                        r = pk_cmd_nice(c, (int)v);
        } else if (strcmp(o, "--rlimit") == 0) {
                int res;
                unsigned long long soft, hard;
                r = pk_cli_parse_rlimit(val, &res, &soft, &hard) == 0
                        ? pk_cmd_rlimit(c, res, soft, hard)
                        : -EINVAL;
        } else if (strcmp(o, "--argv0") == 0)
                r = pk_cmd_argv0(c, val);
        else {
                *why = "unknown_option";
                return -EINVAL;
        }
        if (r == PK_ENOUSER || r == PK_ENOGROUP)
                return -EINVAL;
        return r < 0 ? r : 1;
}

/* ---- main -------------------------------------------------------------- */

static int setup_io(struct wrap *w)
{
        pk_loop_io_init(w->loop, &w->vm_in, 0);
        w->vm_in.w.ctx = w;
        pk_loop_io_init(w->loop, &w->vm_out, 1);
        w->vm_out.w.ctx = w;
        if (!w->transparent) {
                (void)pk_fd_pipe_set_size(1, WRAP_OUT_CHUNK); /* best effort, as above */
                struct stat st;
                int sz = pk_fd_pipe_get_size(1);
                w->vm_pipe = fstat(1, &st) == 0 && S_ISFIFO(st.st_mode) && sz > 0;
                w->vm_pipe_size = sz > 0 ? (size_t)sz : 0;
        }
        w->ch_in_fd = pk_proc_fd(w->proc, 0);
        pk_fd_set_nonblock(w->ch_in_fd, 1);
        pk_loop_io_init(w->loop, &w->ch_in, w->ch_in_fd);
        w->ch_in.w.ctx = w;
        struct source *srcs[2] = {&w->out, &w->err};
        for (int k = 0; k < 2; k++) {
                struct source *s = srcs[k];
                s->w = w;
                s->tag = k ? "stderr" : "stdout";
                s->fd = pk_proc_fd(w->proc, k + 1);
                if (s->fd < 0)
                        continue;
                pk_fd_set_nonblock(s->fd, 1);
                /* Best effort: a pipe left at the kernel's default size only
                 * means smaller reads. */
                (void)pk_fd_pipe_set_size(s->fd, WRAP_OUT_CHUNK);
                struct pk_framing f = w->framing;
                if (w->transparent) {
                        f.kind = PK_FRAMING_STREAM;
                        f.arg = 0;
                }
                int r = pk_deframer_new(&f, &s->def);
                if (r < 0)
                        return r;
                pk_loop_io_init(w->loop, &s->io, s->fd);
                s->io.w.ctx = s;
        }
        pk_fd_set_nonblock(0, 1);
        pk_fd_set_nonblock(1, 1);
        int r = pk_loop_io_start(&w->vm_in, PK_LOOP_READ, on_vm_in);
        if (r < 0)
                return r;
        w->vm_in_ev = PK_LOOP_READ;
        pk_loop_child_init(w->loop, &w->child_w);
        w->child_w.w.ctx = w;
        r = pk_proc_watch(w->proc, &w->child_w, on_child);
        if (r < 0)
                return r;
        static const int sigs[4] = {SIGTERM, SIGHUP, SIGINT, SIGQUIT};
        for (int k = 0; k < 4; k++) {
                pk_loop_signal_init(w->loop, &w->sigs[k]);
                w->sigs[k].w.ctx = w;
                r = pk_loop_signal_start(&w->sigs[k], sigs[k], on_signal);
                if (r < 0)
                        return r;
        }
        pk_loop_signal_init(w->loop, &w->chld);
        w->chld.w.ctx = w;
        r = pk_loop_signal_start(&w->chld, SIGCHLD, on_sigchld);
        if (r < 0)
                return r;
        pk_loop_timer_init(w->loop, &w->grace_t);
        w->grace_t.w.ctx = w;
        pk_loop_timer_init(w->loop, &w->poll_t);
        w->poll_t.w.ctx = w;
        return 0;
}

static int wrap_main(int argc, char **argv)
{
        struct wrap w = {
            .window = 256 << 10,
            .stop_signal = SIGTERM,
            .grace_ms = 5000,
            .ch_in_fd = -1,
            .out = {.fd = -1},
            .err = {.fd = -1},
            .to_vm = {.max = (size_t)256 << 20},
            .to_child = {.max = WRAP_STDIN_MAX + 16},
        };
        struct pk_cmd *c = NULL;
        struct limit limits[3];
        int n_limits = 0;
        bool no_cgroup = false;
        int rc = PK_CLI_EXIT_SYSTEM;
        pk_etf_buf_init(&w.msg, (size_t)128 << 20);

        /* SIGPIPE must never kill us: a closed port shows as EPIPE.  The
         * signals that end us are blocked from the start and read through the
         * loop's signalfd (the child gets an empty mask). */
        signal(SIGPIPE, SIG_IGN);
        sigset_t ends;
        sigemptyset(&ends);
        sigaddset(&ends, SIGTERM);
        sigaddset(&ends, SIGHUP);
        sigaddset(&ends, SIGINT);
        sigaddset(&ends, SIGQUIT);
        sigprocmask(SIG_BLOCK, &ends, NULL);
        /* Our parent's death (the VM's erl_child_setup) ends the child too. */
        pid_t parent = getppid();
        prctl(PR_SET_PDEATHSIG, SIGHUP, 0, 0, 0);

        int prog_at = -1;
        for (int k = 1; k < argc; k++) {
                if (strcmp(argv[k], "--transparent") == 0)
                        w.transparent = true;
                if (strcmp(argv[k], "--") == 0) {
                        prog_at = k + 1;
                        break;
                }
        }
        if (prog_at < 0 || prog_at >= argc) {
                startup_error(&w, "option", "--", "missing_program", 0);
                return PK_CLI_EXIT_USAGE;
        }
        int r = pk_cmd_new(argv[prog_at], &c);
        for (int k = prog_at + 1; k < argc && r == 0; k++)
                r = pk_cmd_arg(c, argv[k]);
        if (r < 0) {
                startup_error(&w, "option", argv[prog_at], "badarg", r);
                pk_cmd_free(c);
                return PK_CLI_EXIT_USAGE;
        }
        for (int i = 1; i < prog_at - 1; i++) {
                const char *val = i + 1 < prog_at - 1 ? argv[i + 1] : NULL;
                const char *why;
                r = apply_option(&w, c, limits, &n_limits, &no_cgroup, argv[i], val, &why);
                if (r < 0) {
                        startup_error(&w, "option", argv[i], why, r == -EINVAL ? 0 : r);
                        pk_cmd_free(c);
                        return PK_CLI_EXIT_USAGE;
                }
                i += r;
        }
        struct pk_framing norm;
        if (pk_framing_normalize(&w.framing, &norm) < 0) {
                startup_error(&w, "option", "--line", "badarg", 0);
                pk_cmd_free(c);
                return PK_CLI_EXIT_USAGE;
        }
        w.framing = norm;

        /* The child: its own process group; stdio as the mode says.  It dies
         * with us too if we are ever SIGKILLed. */
        r = pk_cmd_setpgid(c, 0);
        if (r == 0)
                r = pk_cmd_pdeathsig(c, SIGKILL);
        if (r == 0)
                r = pk_cmd_fd_pipe(c, 0, PK_PIPE_CHILD_READS);
        if (r == 0)
                r = pk_cmd_fd_pipe(c, 1, PK_PIPE_CHILD_WRITES);
        if (r == 0) {
                if (w.transparent || w.err_mode == ERR_INHERIT)
                        r = pk_cmd_fd(c, 2, 2);
                else if (w.err_mode == ERR_SEPARATE)
                        r = pk_cmd_fd_pipe(c, 2, PK_PIPE_CHILD_WRITES);
                else if (w.err_mode == ERR_STDOUT)
                        r = pk_cmd_fd_same_as(c, 2, 1);
                else
                        r = pk_cmd_fd_null(c, 2);
        }
        if (r < 0) {
                startup_error(&w, "spawn", "args", "badarg", r);
                goto out;
        }

        /* A cgroup that cannot be made leaves the tree in process-group mode. */
        (void)wrap_tree_init(&w.tree, !no_cgroup);
        for (int k = 0; k < n_limits; k++) {
                int lr = wrap_tree_limit(&w.tree, limits[k].file, limits[k].value);
                if (lr < 0) {
                        startup_error(&w, "cgroup", limits[k].file,
                                      lr == -EOPNOTSUPP ? "not_available" : "badarg",
                                      lr == -EOPNOTSUPP ? 0 : lr);
                        rc = PK_CLI_EXIT_BADINPUT;
                        goto out;
                }
        }
        if (getppid() != parent)
                goto out; /* the VM died before PDEATHSIG was armed */

        r = pk_loop_new(&w.loop);
        w.arena = pk_arena_new((size_t)256 << 20);
        struct pk_framing cf = {
            .kind = PK_FRAMING_PACKET, .arg = 4, .max_message = WRAP_STDIN_MAX + 4096};
        if (r == 0 && w.arena)
                r = pk_deframer_new(&cf, &w.cmd_def);
        if (r < 0 || !w.arena) {
                startup_error(&w, "system", "setup", "enomem", r < 0 ? r : -ENOMEM);
                goto out;
        }

        struct pk_spawn_error se = {0};
        r = wrap_tree_place(&w.tree, c);
        if (r == 0)
                r = pk_spawn(c, &w.proc, &se);
        if (r < 0 && se.step == PK_SPAWN_STEP_CGROUP && n_limits == 0) {
                /* A cgroup we made but may not place a child in (e.g. one
                 * with controllers enabled): process-group mode instead, as
                 * when no cgroup could be made.  With limits asked for, the
                 * failure stands. */
                r = pk_cmd_cgroup(c, -1);
                wrap_tree_destroy(&w.tree);
                w.tree.mode = WRAP_TREE_PGROUP;
                memset(&se, 0, sizeof(se));
                if (r == 0)
                        r = pk_spawn(c, &w.proc, &se);
        }
        if (r < 0) {
                char step[32];
                const char *sn = pk_spawn_step_name(se.step);
                size_t i = 0;
                for (; sn && sn[i] && i < sizeof(step) - 1; i++)
                        step[i] = (char)tolower((unsigned char)sn[i]);
                step[i] = '\0';
                startup_error(&w, "spawn", i ? step : "spawn", "badarg", r);
                rc = r == -ENOENT ? 127 : 126;
                goto out;
        }
        w.pid = pk_proc_pid(w.proc);
        wrap_tree_adopt(&w.tree, w.pid);
        r = setup_io(&w);
        if (r < 0) {
                startup_error(&w, "system", "setup", "badarg", r);
                pk_proc_signal(w.proc, SIGKILL);
                wrap_tree_kill(&w.tree);
                goto out;
        }
        if (!w.transparent) {
                pk_etf_buf_reset(&w.msg);
                pk_etf_put_version(&w.msg);
                pk_etf_put_tuple(&w.msg, 3);
                put_atom(&w.msg, "started");
                pk_etf_put_int(&w.msg, w.pid);
                put_atom(&w.msg, w.tree.mode == WRAP_TREE_CGROUP ? "cgroup" : "pgroup");
                send_msg(&w);
        }
        sync_io(&w);
        r = pk_loop_run(w.loop);
        if (w.fail || r < 0) {
                /* Out of memory or a loop failure: still take the tree down. */
                wrap_tree_kill(&w.tree);
                if (!w.exited)
                        pk_proc_wait(w.proc, -1, NULL);
                rc = PK_CLI_EXIT_SYSTEM;
        } else if (w.transparent) {
                rc = pk_exit_shell(&w.st);
        } else {
                /* Flush what is left (blocking now: nothing else to do). */
                pk_fd_set_nonblock(1, 0);
                if (!w.vm_gone)
                        (void)q_flush(&w.to_vm, 1);
                rc = 0;
        }
        if (w.transparent && !w.vm_gone) {
                pk_fd_set_nonblock(1, 0);
                (void)q_flush(&w.to_vm, 1);
        }
out:
        wrap_tree_destroy(&w.tree);
        for (int k = 0; k < 4; k++)
                if (w.loop)
                        pk_loop_signal_stop(&w.sigs[k]);
        if (w.loop)
                pk_loop_signal_stop(&w.chld);
        if (w.loop)
                pk_loop_child_stop(&w.child_w);
        pk_proc_free(w.proc);
        pk_deframer_free(w.out.def);
        pk_deframer_free(w.err.def);
        pk_deframer_free(w.cmd_def);
        pk_arena_free(w.arena);
        pk_loop_free(w.loop);
        pk_cmd_free(c);
        free(w.to_vm.data);
        free(w.to_child.data);
        pk_etf_buf_free(&w.msg);
        return rc;
}

static const struct pk_cli_command wrap_cmd = {
    .name = "wrap",
    .summary = "the port program behind the Erlang/Elixir applications (no orphans)",
    .usage = wrap_usage,
    .main = wrap_main,
};
PK_CLI_COMMAND(wrap_cmd)
