/* SPDX-License-Identifier: MIT */
/* Pseudo-terminals (master/slave pairs, window size) and termios settings
 * for terminals and serial lines (raw mode, speed, framing, flow). */
#include "fd/fd-internal.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>

#ifndef TIOCGPTPEER
#        define TIOCGPTPEER _IO('T', 0x41)
#endif

static int tcsetattr_retry(int fd, int when, const struct termios *t)
{
        int r;
        do
                r = tcsetattr(fd, when, t);
        while (r < 0 && errno == EINTR);
        return r;
}

int pk_fd_pty_open(int ret_fds[2], int flags, char *ret_name, size_t name_size)
{
        if (!ret_fds || pk__bad_flags(flags, PK_FD_NONBLOCK) || (ret_name && !name_size))
                return -EINVAL;
        int saved = errno;
        PK_CLEANUP_FD int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC |
                                                ((flags & PK_FD_NONBLOCK) ? O_NONBLOCK : 0));
        if (master < 0)
                return pk__neg_errno();
        if (grantpt(master) < 0 || unlockpt(master) < 0)
                return pk__neg_errno();
        char name[64];
        int r = ptsname_r(master, name, sizeof(name));
        if (r != 0)
                return -r;
        if (ret_name && strlen(name) >= name_size)
                return -ERANGE;
        /* TIOCGPTPEER (Linux 4.13) opens the slave through the master, so a
         * path swapped under /dev/pts cannot hand us another terminal. */
        PK_CLEANUP_FD int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0) {
                if (errno != EINVAL && errno != ENOTTY)
                        return pk__neg_errno();
                slave = pk_fd_open(name, O_RDWR, 0);
                if (slave < 0)
                        return slave;
        }
        errno = saved;
        if (ret_name)
                memcpy(ret_name, name, strlen(name) + 1);
        ret_fds[0] = pk_take_fd(&master);
        ret_fds[1] = pk_take_fd(&slave);
        return 0;
}

int pk_fd_pty_set_winsize(int fd, const struct pk_fd_winsize *ws)
{
        if (!ws)
                return -EINVAL;
        struct winsize w = {.ws_row = ws->rows,
                            .ws_col = ws->cols,
                            .ws_xpixel = ws->xpixel,
                            .ws_ypixel = ws->ypixel};
        int saved = errno;
        if (ioctl(fd, TIOCSWINSZ, &w) < 0)
                return pk__neg_errno();
        errno = saved;
        return 0;
}

int pk_fd_pty_get_winsize(int fd, struct pk_fd_winsize *ret_ws)
{
        if (!ret_ws)
                return -EINVAL;
        struct winsize w;
        int saved = errno;
        if (ioctl(fd, TIOCGWINSZ, &w) < 0)
                return pk__neg_errno();
        errno = saved;
        ret_ws->rows = w.ws_row;
        ret_ws->cols = w.ws_col;
        ret_ws->xpixel = w.ws_xpixel;
        ret_ws->ypixel = w.ws_ypixel;
        return 0;
}

int pk_fd_term_set_raw(int fd, struct termios *ret_saved)
{
        struct termios t;
        int saved = errno;
        if (tcgetattr(fd, &t) < 0)
                return pk__neg_errno();
        struct termios old = t;
        cfmakeraw(&t);
        t.c_cc[VMIN] = 1;
        t.c_cc[VTIME] = 0;
        if (tcsetattr_retry(fd, TCSANOW, &t) < 0)
                return pk__neg_errno();
        errno = saved;
        if (ret_saved)
                *ret_saved = old;
        return 0;
}

int pk_fd_term_restore(int fd, const struct termios *saved_tio)
{
        if (!saved_tio)
                return -EINVAL;
        int saved = errno;
        if (tcsetattr_retry(fd, TCSADRAIN, saved_tio) < 0)
                return pk__neg_errno();
        errno = saved;
        return 0;
}

static const struct {
        unsigned rate;
        speed_t code;
} bauds[] = {
    {50, B50},           {75, B75},           {110, B110},         {134, B134},
    {150, B150},         {200, B200},         {300, B300},         {600, B600},
    {1200, B1200},       {1800, B1800},       {2400, B2400},       {4800, B4800},
    {9600, B9600},       {19200, B19200},     {38400, B38400},     {57600, B57600},
    {115200, B115200},   {230400, B230400},   {460800, B460800},   {500000, B500000},
    {576000, B576000},   {921600, B921600},   {1000000, B1000000}, {1152000, B1152000},
    {1500000, B1500000}, {2000000, B2000000}, {2500000, B2500000}, {3000000, B3000000},
    {3500000, B3500000}, {4000000, B4000000},
};

static bool rate_to_code(unsigned rate, speed_t *code)
{
        for (size_t i = 0; i < PK_ARRAY_SIZE(bauds); i++) {
                if (bauds[i].rate == rate) {
                        *code = bauds[i].code;
                        return true;
                }
        }
        return false;
}

static unsigned code_to_rate(speed_t code)
{
        for (size_t i = 0; i < PK_ARRAY_SIZE(bauds); i++) {
                if (bauds[i].code == code)
                        return bauds[i].rate;
        }
        return 0;
}

int pk_fd_serial_open(const char *path, int flags)
{
        if (!path || pk__bad_flags(flags, PK_FD_NONBLOCK))
                return -EINVAL;
        /* Without O_NONBLOCK a modem line blocks in open() until carrier. */
        PK_CLEANUP_FD int fd = pk_fd_open(path, O_RDWR | O_NONBLOCK, 0);
        if (fd < 0)
                return fd;
        int saved = errno;
        struct termios t;
        if (tcgetattr(fd, &t) < 0)
                return pk__neg_errno();
        t.c_cflag |= CLOCAL;
        if (tcsetattr_retry(fd, TCSANOW, &t) < 0)
                return pk__neg_errno();
        errno = saved;
        if (!(flags & PK_FD_NONBLOCK)) {
                int r = pk_fd_set_nonblock(fd, 0);
                if (r < 0)
                        return r;
        }
        return pk_take_fd(&fd);
}

static tcflag_t csize_bits(int data_bits)
{
        switch (data_bits) {
        case 5:
                return CS5;
        case 6:
                return CS6;
        case 7:
                return CS7;
        case 8:
                return CS8;
        default:
                return (tcflag_t)-1;
        }
}

int pk_fd_termios_encode(struct termios *t, const struct pk_fd_serial *cfg)
{
        if (!t || !cfg)
                return -EINVAL;
        speed_t speed;
        tcflag_t csize = csize_bits(cfg->data_bits);
        if (!rate_to_code(cfg->baud, &speed) || csize == (tcflag_t)-1 ||
            (cfg->parity != 'N' && cfg->parity != 'E' && cfg->parity != 'O') ||
            (cfg->stop_bits != 1 && cfg->stop_bits != 2))
                return -EINVAL;
        struct termios n = *t;
        cfmakeraw(&n);
        n.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | PARODD | CSTOPB | CRTSCTS);
        n.c_cflag |= csize | CREAD | CLOCAL;
        if (cfg->parity != 'N')
                n.c_cflag |= PARENB;
        if (cfg->parity == 'O')
                n.c_cflag |= PARODD;
        if (cfg->stop_bits == 2)
                n.c_cflag |= CSTOPB;
        if (cfg->rtscts)
                n.c_cflag |= CRTSCTS;
        n.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY | INPCK);
        if (cfg->xonxoff)
                n.c_iflag |= IXON | IXOFF;
        if (cfg->parity != 'N')
                n.c_iflag |= INPCK;
        n.c_cc[VMIN] = 1;
        n.c_cc[VTIME] = 0;
        if (cfsetispeed(&n, speed) < 0 || cfsetospeed(&n, speed) < 0)
                return -EINVAL;
        *t = n;
        return 0;
}

int pk_fd_termios_decode(const struct termios *t, struct pk_fd_serial *ret_cfg)
{
        if (!t || !ret_cfg)
                return -EINVAL;
        ret_cfg->baud = code_to_rate(cfgetospeed(t));
        switch (t->c_cflag & CSIZE) {
        case CS5:
                ret_cfg->data_bits = 5;
                break;
        case CS6:
                ret_cfg->data_bits = 6;
                break;
        case CS7:
                ret_cfg->data_bits = 7;
                break;
        default:
                ret_cfg->data_bits = 8;
                break;
        }
        ret_cfg->parity = (t->c_cflag & PARENB) ? ((t->c_cflag & PARODD) ? 'O' : 'E') : 'N';
        ret_cfg->stop_bits = (t->c_cflag & CSTOPB) ? 2 : 1;
        ret_cfg->rtscts = (t->c_cflag & CRTSCTS) ? 1 : 0;
        ret_cfg->xonxoff = (t->c_iflag & (IXON | IXOFF)) == (IXON | IXOFF) ? 1 : 0;
        return 0;
}

int pk_fd_term_config(int fd, const struct pk_fd_serial *cfg)
{
        if (!cfg)
                return -EINVAL;
        int saved = errno;
        struct termios t;
        if (tcgetattr(fd, &t) < 0)
                return pk__neg_errno();
        int r = pk_fd_termios_encode(&t, cfg);
        if (r < 0)
                return r;
        if (tcsetattr_retry(fd, TCSANOW, &t) < 0)
                return pk__neg_errno();
        /* tcsetattr() succeeds if any one change took, and drivers silently
         * override what they cannot do (a pty forces CS8 and clears
         * PARENB): read back and compare. */
        struct pk_fd_serial got = {0}; /* filled on success; zeroed, so never garbage */
        r = pk_fd_term_get(fd, &got);
        if (r < 0)
                return r;
        errno = saved;
        if (got.baud != cfg->baud || got.data_bits != cfg->data_bits || got.parity != cfg->parity ||
            got.stop_bits != cfg->stop_bits || got.rtscts != !!cfg->rtscts ||
            got.xonxoff != !!cfg->xonxoff)
                return -ENOTSUP;
        return 0;
}

int pk_fd_term_get(int fd, struct pk_fd_serial *ret_cfg)
{
        if (!ret_cfg)
                return -EINVAL;
        struct termios t;
        int saved = errno;
        if (tcgetattr(fd, &t) < 0)
                return pk__neg_errno();
        errno = saved;
        return pk_fd_termios_decode(&t, ret_cfg);
}
