/*
 * admit.c -- who gets a connection slot, decided by a pure function so that
 * the policy is tested without sockets.
 *
 * The dashboard must stay reachable for whoever holds the token while
 * strangers stall or flood it (issue 10: seventy connections trickling a
 * byte every two seconds used to lock everyone out). Three rules:
 *   - a non-loopback address holds at most `per_ip` connections;
 *   - non-loopback peers together never take the last `loopback_reserve`
 *     slots, so a local operator always gets in;
 *   - when the slots are full, the newcomer takes the place of the
 *     connection that has waited longest in its state, preferring one that is
 *     still sending its request head or idling between requests over one
 *     receiving an answer. A remote newcomer only ever displaces a remote
 *     connection.
 * A token holder sends a whole request at once, so it is always the newest
 * and is answered before anyone can push it out; a staller is pushed out
 * by newcomers, and cut off at the header deadline anyway (server.c). nginx
 * does the same when it runs out of connections (ngx_drain_connections
 * closes the oldest reusable, i.e. idle, ones); the header deadline is
 * Apache's mod_reqtimeout. Neither needs a guess of how slow a legitimate
 * client may be, which per-connection rate limits would.
 */
#include "dashboard.h"

#include <sys/socket.h>

static bool same_addr(const macho__conn *c, int family, const uint8_t addr[16]) {
  return c->family == family && memcmp(c->addr, addr, family == AF_INET ? 4 : 16) == 0;
}

/* The best victim among live connections (remote ones only when
 * remote_only), or -1: the oldest in HEADER, else the oldest in RESPOND. */
static long pick_victim(const macho__conn *conns, size_t nslots, bool remote_only) {
  long best = -1;
  for (size_t i = 0; i < nslots; i++) {
    const macho__conn *c = &conns[i];
    if (c->state == MACHO__CONN_FREE || c->evicted || (remote_only && c->loopback)) continue;
    if (best < 0) {
      best = (long)i;
      continue;
    }
    const macho__conn *b = &conns[best];
    bool c_idle = c->state == MACHO__CONN_HEADER, b_idle = b->state == MACHO__CONN_HEADER;
    if ((c_idle && !b_idle) || (c_idle == b_idle && c->since_ms < b->since_ms)) best = (long)i;
  }
  return best;
}

bool macho__dash_admit(const macho__conn *conns, size_t nslots, const macho__admit_limits *lim, int family,
                       const uint8_t addr[16], bool loopback, long *victim) {
  *victim = -1;
  size_t live = 0, live_remote = 0, same = 0, free_slots = 0;
  for (size_t i = 0; i < nslots; i++) {
    const macho__conn *c = &conns[i];
    if (c->state == MACHO__CONN_FREE) {
      free_slots++;
      continue;
    }
    if (c->evicted) continue;
    live++;
    if (!c->loopback) live_remote++;
    if (same_addr(c, family, addr)) same++;
  }
  if (free_slots == 0) return false; /* evicted ones have not closed yet */
  if (!loopback) {
    if (same >= lim->per_ip) return false;
    uint32_t remote_cap = lim->max_connections > lim->loopback_reserve
                              ? lim->max_connections - lim->loopback_reserve
                              : 0;
    /* (more than the limits only if they were lowered: never fill further) */
    if (live_remote > remote_cap || live > lim->max_connections) return false;
    if (live_remote == remote_cap || live == lim->max_connections) {
      *victim = pick_victim(conns, nslots, true);
      return *victim >= 0;
    }
    return true;
  }
  if (live > lim->max_connections) return false;
  if (live == lim->max_connections) {
    /* strangers from afar give way first, then the longest waiting */
    *victim = pick_victim(conns, nslots, true);
    if (*victim < 0) *victim = pick_victim(conns, nslots, false);
    return *victim >= 0;
  }
  return true;
}
