/* SPDX-License-Identifier: MIT */
/**
 * @file portkit.h
 * @brief Umbrella header: includes every portkit layer.
 */
#ifndef PORTKIT_H
#define PORTKIT_H

#include <portkit/error.h>
#include <portkit/etf.h>
#include <portkit/fd.h>
#include <portkit/loop.h>
#include <portkit/packet.h>
#include <portkit/port.h>
#include <portkit/spawn.h>
#include <portkit/sup.h>
#include <portkit/unit.h>

#endif
