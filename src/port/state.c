/* SPDX-License-Identifier: MIT */
/* The port's state, written down: one state x event table per machine (the
 * streams the host reads, the stream it writes, the child), in the spirit of
 * s6-supervise.  An event a state does not react to leaves it unchanged; the
 * tables say so explicitly, so every pair is a decision someone made. */
#include "port-host.h"

/* Reading a stream.  END after DEAD keeps DEAD: nothing more is delivered
 * once a header was hostile, EOF or not.  TELL before the stream ended means
 * nothing (the eof callback runs only once it has). */
static const unsigned char rd_table[PK__RD_NSTATES][PK__RD_NEVENTS] = {
    /*               END          HOSTILE      TELL */
    [PK__RD_OPEN] = {PK__RD_EOF, PK__RD_DEAD, PK__RD_OPEN},
    [PK__RD_EOF] = {PK__RD_EOF, PK__RD_DEAD, PK__RD_TOLD},
    [PK__RD_DEAD] = {PK__RD_DEAD, PK__RD_DEAD, PK__RD_TOLD},
    [PK__RD_TOLD] = {PK__RD_TOLD, PK__RD_TOLD, PK__RD_TOLD},
};

/* Writing the child's input.  BUSY and OPEN differ only for the loop API's
 * watermarks; SHUTTING refuses sends but still writes the queue; CLOSED is
 * final. */
static const unsigned char wr_table[PK__WR_NSTATES][PK__WR_NEVENTS] = {
    /*                   HIGH             LOW              SHUT             CLOSE */
    [PK__WR_OPEN] = {PK__WR_BUSY, PK__WR_OPEN, PK__WR_SHUTTING, PK__WR_CLOSED},
    [PK__WR_BUSY] = {PK__WR_BUSY, PK__WR_OPEN, PK__WR_SHUTTING, PK__WR_CLOSED},
    [PK__WR_SHUTTING] = {PK__WR_SHUTTING, PK__WR_SHUTTING, PK__WR_SHUTTING, PK__WR_CLOSED},
    [PK__WR_CLOSED] = {PK__WR_CLOSED, PK__WR_CLOSED, PK__WR_CLOSED, PK__WR_CLOSED},
};

/* The child: spawned once, reaped once. */
static const unsigned char ch_table[PK__CH_NSTATES][PK__CH_NEVENTS] = {
    /*                  SPAWNED          REAP */
    [PK__CH_NONE] = {PK__CH_RUNNING, PK__CH_NONE},
    [PK__CH_RUNNING] = {PK__CH_RUNNING, PK__CH_REAPED},
    [PK__CH_REAPED] = {PK__CH_REAPED, PK__CH_REAPED},
};

void pk__rd_step(enum pk__rd *st, enum pk__rd_ev ev)
{
        *st = (enum pk__rd)rd_table[*st][ev];
}

void pk__wr_step(enum pk__wr *st, enum pk__wr_ev ev)
{
        *st = (enum pk__wr)wr_table[*st][ev];
}

void pk__ch_step(enum pk__ch *st, enum pk__ch_ev ev)
{
        *st = (enum pk__ch)ch_table[*st][ev];
}
