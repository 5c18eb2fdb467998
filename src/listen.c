/*
 * listen.c -- the removal listener: every entry that leaves the cache, and
 * every value a put replaces, reported once, with its reason, outside the
 * shard lock.
 *
 * The idea: every removal already goes through one function
 * (macho__shard_remove, and the replace branch of macho__shard_put), which
 * runs under the shard lock, where no caller code may run. So a removal only
 * writes a report on the call's own list (macho__dead, on the caller's
 * stack, the list object mode already used for releases), and the call
 * reads the list once it has dropped the lock: it calls the listener for
 * each report, in the order the removals happened, and only then releases
 * the objects and frees the payloads involved. To hand the listener the
 * bytes without copying them, a removed entry's arena or huge blocks are
 * not freed at removal but "deferred": still allocated, so no writer can
 * reuse them, and the arena keeps its chunks (a clear does not retire them
 * while the shard has deferred blocks). The flush frees them under the
 * lock afterwards. A call whose list fills up (a put evicting many entries
 * for a big value, a clear's slice) stops, flushes and goes on
 * (MACHO__AGAIN), so no report is ever dropped and nothing is allocated
 * for them.
 */
#include "internal.h"

static const char *const removal_names[MACHO_REMOVAL_REASONS] = {
    [MACHO_REMOVED_EVICTED] = "evicted", [MACHO_REMOVED_EXPIRED] = "expired",
    [MACHO_REMOVED_DELETED] = "deleted", [MACHO_REMOVED_REPLACED] = "replaced",
    [MACHO_REMOVED_CLEARED] = "cleared", [MACHO_REMOVED_REJECTED] = "rejected"};

const char *macho_removal_name(macho_removal reason) {
  return (unsigned)reason < MACHO_REMOVAL_REASONS ? removal_names[reason] : NULL;
}

void macho__dead_report(macho__dead *d, uint64_t k, uint64_t v, uint32_t kform, uint32_t vform,
                        macho_removal reason, bool deferred, const void *key, size_t klen) {
  assert(d && d->ngone < MACHO__GONE_MAX);
  macho__gone *g = &d->gone[d->ngone++];
  g->k = k;
  g->v = v;
  g->key = key;
  g->klen = (uint32_t)klen;
  g->kform = (uint8_t)kform;
  g->vform = (uint8_t)vform;
  g->reason = (uint8_t)reason;
  g->deferred = deferred;
}

/* The bytes of a word as the slot held them (no lock: the block is not
 * free, and chunks stay while the shard has deferred blocks). */
static const void *word_bytes(const macho__shard *sh, const uint64_t *w, uint32_t form, size_t *len) {
  if (form <= MACHO__FORM_INLINE_MAX) {
    *len = form;
    return w; /* little-endian: the key's bytes are the word's first bytes */
  }
  if (form == MACHO__FORM_ARENA) {
    *len = macho__ref_len(*w);
    return macho__arena_ptr(&sh->arena, macho__ref_off(*w));
  }
  const uint64_t *h = (const uint64_t *)(uintptr_t)*w;
  *len = h[0];
  return h + 1;
}

void macho__dead_flush(macho_cache *c, macho__dead *d) {
  uint32_t ndefer = 0;
  for (uint32_t i = 0; i < d->ngone; i++) {
    macho__gone *g = &d->gone[i];
    if (c->object_mode) {
      c->cfg.on_remove(c->cfg.on_remove_ctx, g->key ? g->key : (void *)(uintptr_t)g->k, 0,
                       (void *)(uintptr_t)g->v, 0, (macho_removal)g->reason);
    } else {
      size_t kl = g->klen, vl = 0;
      const void *kp = g->key ? g->key : word_bytes(d->sh, &g->k, g->kform, &kl);
      const void *vp = word_bytes(d->sh, &g->v, g->vform, &vl);
      c->cfg.on_remove(c->cfg.on_remove_ctx, kp, kl, vp, vl, (macho_removal)g->reason);
    }
    ndefer += g->deferred;
  }
  if (ndefer) {
    macho__shard *sh = d->sh;
    macho__lock(sh);
    for (uint32_t i = 0; i < d->ngone; i++)
      if (d->gone[i].deferred) macho__shard_free_gone(sh, &d->gone[i]);
    macho__unlock(sh);
  }
  d->ngone = 0;
  for (uint32_t i = 0; i < d->n; i++) c->obj_ops.release(c->obj_ops.ctx, d->obj[i]);
  d->n = 0;
}
