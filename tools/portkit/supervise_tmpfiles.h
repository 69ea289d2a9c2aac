/* SPDX-License-Identifier: MIT */
/* tmpfiles.d at `portkit supervise` start (supervise_tmpfiles.c). */
#ifndef PORTKIT_SUPERVISE_TMPFILES_H
#define PORTKIT_SUPERVISE_TMPFILES_H

#include <portkit.h>

/* --tmpfiles= */
enum { SV_TMPFILES_AUTO = 0, SV_TMPFILES_ON, SV_TMPFILES_OFF };

/* Parses "auto", "on" or "off" into *ret; -1 for anything else. */
int pk_sv_tmpfiles_mode(const char *s, int *ret);

/* Applies tmpfiles.d as `systemd-tmpfiles --create --boot` (mode: SV_TMPFILES_*;
 * auto applies when running as root on a system not booted by systemd, or
 * when root_dir is given).  root_dir (NULL: /) prefixes every path; host is
 * borrowed for the call.  Each warning and error is logged with its
 * file:line, then one summary line.  Returns 0, or -1 when strict and a
 * line was refused or failed (logged). */
int pk_sv_tmpfiles(int mode, const char *root_dir, int strict, const struct pk_unit_host *host);

#endif
