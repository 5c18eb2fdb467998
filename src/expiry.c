/*
 * expiry.c -- TTL bookkeeping: encoding deadlines in 32 bits, and the sweep
 * that reclaims entries nobody asks for again.
 *
 * An expired entry is never returned: every lookup checks the deadline (a
 * lock-free get treats an expired entry as absent and leaves its removal to
 * a writer). Entries nobody asks for again are reclaimed by a sweep cursor
 * that walks the table one group per put (MACHO__PUT_SWEEP slots), so each
 * expired entry goes within about nslots/16 puts of its deadline, at O(1)
 * cost per call and zero bytes per entry (a timer wheel would cost links per
 * entry; Redis's active expiry samples for the same reason). macho_expire()
 * reclaims everything at once.
 *
 * Times are 32-bit ticks of 100 us from one of the shard's two epochs
 * (table.h), so a deadline reaches 119 hours past its epoch; one that does
 * not fit is stored in ticks of one second (LONG, 136 years). The first
 * epoch is the cache clock when the shard opened. Every 60 hours (2^31
 * ticks) the other epoch becomes "now" and groups move to it: the group a
 * write touches first, and one more group per write, so a cache that runs
 * for months keeps 100 us resolution and exact lifespans at O(1) per write
 * (a cache idle for 60 hours finishes the move in one pass at its next
 * rebase).
 */
#include "internal.h"

#include <math.h>

uint64_t macho__ttl_to_ns(double ttl_seconds) {
  assert(ttl_seconds >= 0);
  /* 0 and anything beyond ~292 years (or +inf) mean "never expires". */
  if (ttl_seconds == 0 || ttl_seconds >= 9.2e9) return 0;
  double ns = ceil(ttl_seconds * 1e9);
  return ns < 1 ? 1 : (uint64_t)ns;
}

static uint64_t ceil_div(uint64_t x, uint64_t d) { return x / d + (x % d != 0); }

uint64_t macho__m_time(const macho__shard *sh, uint64_t now, uint64_t ttl_ns, bool own_ttl) {
  uint64_t epoch = atomic_load_explicit(&sh->epoch_ns[sh->epoch_cur], memory_order_relaxed);
  uint64_t rel = now > epoch ? now - epoch : 0; /* a clock that went back: the epoch */
  if (ttl_ns) {
    uint64_t d = rel + ttl_ns;
    /* Beyond the clock's range (also once rounded up to a tick) means never. */
    uint64_t room = UINT64_MAX - epoch;
    if (d >= rel && d <= room) {
      uint64_t f = ceil_div(d, MACHO__FINE_NS);
      uint64_t flags = MACHO__M_DEADLINE | (own_ttl ? MACHO__M_OWN_TTL : 0);
      if (f <= MACHO__M_TIME_MASK && f <= room / MACHO__FINE_NS) return f | flags;
      uint64_t l = ceil_div(d, MACHO__LONG_NS);
      if (l <= MACHO__M_TIME_MASK && l <= room / MACHO__LONG_NS) return l | flags | MACHO__M_LONG;
    }
  }
  return macho__write_time(now, epoch);
}

/* Without a deadline the time field is the write time, signed (it may lie
 * before a later epoch): 100 us ticks, or seconds (LONG) beyond 60 hours. */
uint64_t macho__write_time(uint64_t at, uint64_t epoch) {
  int64_t rel = at >= epoch ? (int64_t)(at - epoch) : -(int64_t)(epoch - at);
  int64_t f = rel / (int64_t)MACHO__FINE_NS;
  if (f >= INT32_MIN && f <= INT32_MAX) return (uint32_t)(int32_t)f;
  int64_t l = rel / (int64_t)MACHO__LONG_NS;
  if (l < INT32_MIN) l = INT32_MIN;
  if (l > INT32_MAX) l = INT32_MAX;
  return (uint32_t)(int32_t)l | MACHO__M_LONG;
}

static uint64_t write_time_ns(uint64_t m, uint64_t epoch) {
  int64_t t = (int32_t)(uint32_t)(m & MACHO__M_TIME_MASK);
  int64_t d = t * (int64_t)((m & MACHO__M_LONG) ? MACHO__LONG_NS : MACHO__FINE_NS);
  if (d < 0 && (uint64_t)-d > epoch) return 0;
  return (uint64_t)((int64_t)epoch + d);
}

uint64_t macho__m_birth(const macho__shard *sh, uint64_t m, uint32_t group_epoch, uint32_t slot) {
  uint64_t epoch = atomic_load_explicit(&sh->epoch_ns[group_epoch & 1], memory_order_relaxed);
  if (!(m & MACHO__M_DEADLINE)) return write_time_ns(m, epoch);
  uint64_t t = macho__m_time_ns(m, epoch);
  if (m & MACHO__M_OWN_TTL)
    return sh->own_born ? epoch + (uint64_t)sh->own_born[slot] * MACHO__FINE_NS : UINT64_MAX;
  uint64_t ttl = sh->cache->default_ttl_ns;
  return t > ttl ? t - ttl : 0;
}

void macho__note_deadline(macho__shard *sh, uint64_t m) {
  if (!(m & MACHO__M_DEADLINE)) return;
  uint64_t d = macho__m_time_ns(m, atomic_load_explicit(&sh->epoch_ns[sh->epoch_cur], memory_order_relaxed));
  if (d < sh->cycle_min) sh->cycle_min = d;
  if (d < atomic_load_explicit(&sh->next_expiry, memory_order_relaxed))
    atomic_store_explicit(&sh->next_expiry, d, memory_order_relaxed);
}

/* The sweep does nothing until the clock reaches next_expiry, a lower bound
 * on every deadline in the shard (so a cache whose TTLs are far off pays
 * nothing for it). Once due, it walks the table group by group; when the
 * cursor wraps, the earliest deadline it saw (and any written since) becomes
 * the new bound. */
uint32_t macho__sweep(macho__shard *sh, uint64_t now, uint32_t budget, macho__dead *dead) {
  if (!sh->has_ttl || sh->len == 0) return 0;
  if (now < atomic_load_explicit(&sh->next_expiry, memory_order_relaxed)) return 0;
  macho__table *t = atomic_load_explicit(&sh->table, memory_order_relaxed);
  uint32_t reclaimed = 0;
  for (uint32_t n = 0; n < budget; n += MACHO__GROUP_SLOTS) {
    if (sh->sweep_group >= t->ngroups) {
      sh->sweep_group = 0;
      atomic_store_explicit(&sh->next_expiry, sh->cycle_min, memory_order_relaxed);
      sh->cycle_min = UINT64_MAX;
      if (now < atomic_load_explicit(&sh->next_expiry, memory_order_relaxed)) return reclaimed;
    }
    uint32_t g = sh->sweep_group++;
    uint64_t epoch = macho__group_epoch_ns(sh, &t->groups[g]);
    uint32_t full = macho__group_full(&t->groups[g]);
    while (full) {
      uint32_t s = g * MACHO__GROUP_SLOTS + (uint32_t)__builtin_ctz(full);
      full &= full - 1;
      uint64_t m = atomic_load_explicit(&t->slots[s].m, memory_order_relaxed);
      if (!(m & MACHO__M_DEADLINE)) continue;
      uint64_t d = macho__m_time_ns(m, epoch);
      if (d > now) {
        if (d < sh->cycle_min) sh->cycle_min = d;
        continue;
      }
      if (!macho__dead_room(dead)) { /* report and release first; see this group again */
        sh->sweep_group = g;
        return reclaimed;
      }
      macho__shard_remove(sh, s, macho__hash_for_removal(sh, t, s), MACHO_REMOVED_EXPIRED, now, false, dead);
      reclaimed++;
    }
  }
  return reclaimed;
}

/* ---- epochs -------------------------------------------------------------------------- */
#define REBASE_NS ((1ull << 31) * MACHO__FINE_NS) /* 59.6 hours */

static uint64_t rebase_time(uint64_t m, uint64_t from, uint64_t to) {
  uint64_t keep = m & ~(MACHO__M_TIME_MASK | MACHO__M_LONG);
  if (!(m & MACHO__M_DEADLINE)) return keep | macho__write_time(write_time_ns(m, from), to);
  uint64_t abs = macho__m_time_ns(m, from);
  uint64_t rel = abs > to ? abs - to : 0; /* before the new epoch: expired */
  uint64_t f = rel / MACHO__FINE_NS + (rel % MACHO__FINE_NS != 0);
  if (f <= MACHO__M_TIME_MASK) return keep | f;
  return keep | MACHO__M_LONG | (rel / MACHO__LONG_NS + (rel % MACHO__LONG_NS != 0));
}

void macho__group_rebase(macho__shard *sh, macho__table *t, uint32_t g) {
  macho__group *gr = &t->groups[g];
  uint32_t e = atomic_load_explicit(&gr->epoch, memory_order_relaxed);
  if (e == sh->epoch_cur) return;
  uint64_t from = atomic_load_explicit(&sh->epoch_ns[e], memory_order_relaxed);
  uint64_t to = atomic_load_explicit(&sh->epoch_ns[sh->epoch_cur], memory_order_relaxed);
  macho__group_write_begin(gr);
  uint32_t full = macho__group_full(gr);
  while (full) {
    uint32_t s = g * MACHO__GROUP_SLOTS + (uint32_t)__builtin_ctz(full);
    full &= full - 1;
    _Atomic uint64_t *w = &t->slots[s].m;
    uint64_t m = atomic_load_explicit(w, memory_order_relaxed), n;
    /* Readers may CAS access bits into the same word: a CAS loop. */
    do n = rebase_time(m, from, to);
    while (!atomic_compare_exchange_weak_explicit(w, &m, n, memory_order_relaxed, memory_order_relaxed));
    if ((m & MACHO__M_OWN_TTL) && sh->own_born && s < sh->own_born_n) {
      uint64_t born = from + (uint64_t)sh->own_born[s] * MACHO__FINE_NS;
      uint64_t b = born > to ? (born - to) / MACHO__FINE_NS : 0;
      sh->own_born[s] = b > UINT32_MAX ? UINT32_MAX : (uint32_t)b;
    }
  }
  atomic_store_explicit(&gr->epoch, sh->epoch_cur, memory_order_relaxed);
  macho__group_write_end(gr);
}

void macho__epoch_tick(macho__shard *sh, uint64_t now) {
  macho__table *t = atomic_load_explicit(&sh->table, memory_order_relaxed);
  if (macho__unlikely(sh->migrating)) {
    macho__group_rebase(sh, t, sh->migrate_group);
    if (++sh->migrate_group >= t->ngroups) sh->migrating = false;
  }
  uint64_t cur = atomic_load_explicit(&sh->epoch_ns[sh->epoch_cur], memory_order_relaxed);
  if (macho__likely(now < cur || now - cur < REBASE_NS)) return;
  /* Rebase. A move still under way (the cache idled for 60 hours) ends now. */
  for (; sh->migrating && sh->migrate_group < t->ngroups; sh->migrate_group++)
    macho__group_rebase(sh, t, sh->migrate_group);
  uint8_t next = (uint8_t)(sh->epoch_cur ^ 1u);
  atomic_store_explicit(&sh->epoch_ns[next], now, memory_order_relaxed);
  sh->epoch_cur = next;
  sh->migrating = true;
  sh->migrate_group = 0;
}
