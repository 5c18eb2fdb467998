/*
 * snapshot.c -- saving a cache's entries to a file and loading them back
 * (warm restart): macho_save / macho_save_to, macho_load / macho_load_from.
 *
 * The file (all integers little-endian):
 *
 *   header   8  magic "MACHOSNP"
 *            4  format version (1)
 *            4  flags: bit 0 = object mode (keys and values as dump() made them)
 *            8  wall-clock time of the save (CLOCK_REALTIME, ns)
 *            8  reserved (0)
 *   records, one per entry:
 *            4  key length      4  value length
 *            8  remaining TTL in ns (UINT64_MAX = never expires)
 *            4  rank in its shard's eviction order (0 = next victim,
 *               UINT32_MAX = unknown: hotter than every ranked entry)
 *            4  the policy's hint (macho_entry_view.frequency)
 *            key bytes, value bytes
 *   trailer  8  magic "MACHOEND"
 *            8  number of records   8  bytes of records
 *            8  XXH3-64 of everything before this field
 *
 * Saving walks the cache with the sliced walk (inspect.c), so writers wait
 * for one slice at a time and lock-free gets not at all, and ranks come from
 * the policy's order. A file is written into a temporary file beside its
 * name, fsynced, renamed over the name, and its directory fsynced: the name
 * always holds a whole snapshot, the old one or the new one, and a crash
 * leaves at most a stale temporary file.
 *
 * Loading checks the whole file first -- magic (EFORMAT), length (a missing
 * trailer is ETRUNCATED), version (EVERSION), checksum and structure
 * (ECORRUPT), mode (EMODE) -- and in object mode also undumps every key and
 * value, so that any failure leaves the cache untouched. Then the entries
 * go in coldest first, by rank, so that the policy's order survives (the
 * hottest are the most recent; W-TinyLFU, whose admission filter keeps
 * the first comers, gets the hottest first); remaining TTLs count on from the save, less
 * the wall-clock time since when the cache reads the system clock.
 */
#include "internal.h"
#include "hash.h"
#include "policy/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SNAP_MAGIC "MACHOSNP"
#define SNAP_END "MACHOEND"
#define SNAP_VERSION 1u
#define SNAP_FLAG_OBJECTS 1u
#define HEADER_SIZE 32u
#define TRAILER_SIZE 32u
#define RECORD_HEAD 24u
#define OUT_CHUNK (64u * 1024u)

static void put32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
  return v;
}
static uint64_t get64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

static uint64_t wall_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- saving ------------------------------------------------------------------------ */
typedef struct saver {
  macho_cache *c;
  macho_write_fn write;
  void *ctx;
  unsigned char *buf; /* OUT_CHUNK bytes, transient (not the cache's memory) */
  size_t len;
  XXH3_state_t *xx; /* on the caller's stack: it wants 64-byte alignment */
  uint64_t count, bytes;
  int err;
} saver;

static int out(saver *s, const void *p, size_t n) {
  XXH3_64bits_update(s->xx, p, n);
  const unsigned char *b = p;
  while (n) {
    if (s->len == OUT_CHUNK) {
      if (s->write(s->ctx, s->buf, s->len) != 0) return MACHO_EIO;
      s->len = 0;
    }
    size_t k = OUT_CHUNK - s->len < n ? OUT_CHUNK - s->len : n;
    memcpy(s->buf + s->len, b, k);
    s->len += k;
    b += k;
    n -= k;
  }
  return MACHO_OK;
}

static int emit(void *ctx, const macho_entry_view *v, uint32_t rank) {
  saver *s = ctx;
  macho_cache *c = s->c;
  const void *kd = v->key, *vd = v->value;
  size_t kl = v->klen, vl = v->vlen;
  void *kt = NULL, *vt = NULL;
  if (c->object_mode) {
    /* Caller code, and the walk holds no lock here. */
    if (c->cfg.dump(c->obj_ops.ctx, v->key, &kd, &kl, &kt) != 0) {
      s->err = MACHO_ECALLBACK;
      return 1;
    }
    if (c->cfg.dump(c->obj_ops.ctx, v->value, &vd, &vl, &vt) != 0) {
      if (c->cfg.dump_done) c->cfg.dump_done(c->obj_ops.ctx, kt);
      s->err = MACHO_ECALLBACK;
      return 1;
    }
  }
  int rc = MACHO_OK;
  if (kl > UINT32_MAX || vl > UINT32_MAX) rc = MACHO_EINVAL;
  unsigned char head[RECORD_HEAD];
  if (rc == MACHO_OK) {
    put32(head, (uint32_t)kl);
    put32(head + 4, (uint32_t)vl);
    uint64_t ttl = isinf(v->ttl_remaining) ? UINT64_MAX : (uint64_t)llround(v->ttl_remaining * 1e9);
    if (ttl == 0) ttl = 1; /* alive at the save: never load it as already expired */
    put64(head + 8, ttl);
    put32(head + 16, rank);
    put32(head + 20, v->frequency);
    rc = out(s, head, sizeof head);
  }
  if (rc == MACHO_OK && kl) rc = out(s, kd, kl);
  if (rc == MACHO_OK && vl) rc = out(s, vd, vl);
  if (c->object_mode && c->cfg.dump_done) {
    c->cfg.dump_done(c->obj_ops.ctx, kt);
    c->cfg.dump_done(c->obj_ops.ctx, vt);
  }
  if (rc != MACHO_OK) {
    s->err = rc;
    return 1;
  }
  s->count++;
  s->bytes += RECORD_HEAD + kl + vl;
  return 0;
}

int macho_save_to(macho_cache *c, macho_write_fn write, void *ctx) {
  if (!c || !write) return MACHO_EINVAL;
  if (c->object_mode && !c->cfg.dump) return MACHO_ENOTSUP;
  saver *s = macho__malloc_untracked(&c->alloc, sizeof *s);
  if (!s) return MACHO_ENOMEM;
  memset(s, 0, sizeof *s);
  XXH3_state_t xx;
  s->xx = &xx;
  s->buf = macho__malloc_untracked(&c->alloc, OUT_CHUNK);
  if (!s->buf) {
    macho__free_untracked(&c->alloc, s, sizeof *s);
    return MACHO_ENOMEM;
  }
  s->c = c;
  s->write = write;
  s->ctx = ctx;
  s->len = 0;
  s->count = s->bytes = 0;
  s->err = MACHO_OK;
  XXH3_64bits_reset(&xx);
  unsigned char h[HEADER_SIZE] = {0};
  memcpy(h, SNAP_MAGIC, 8);
  put32(h + 8, SNAP_VERSION);
  put32(h + 12, c->object_mode ? SNAP_FLAG_OBJECTS : 0);
  put64(h + 16, wall_ns());
  int rc = out(s, h, sizeof h);
  if (rc == MACHO_OK) {
    rc = macho__walk(c, true, true, emit, s);
    if (rc == 1) rc = s->err;
  }
  if (rc == MACHO_OK) {
    unsigned char t[TRAILER_SIZE - 8];
    memcpy(t, SNAP_END, 8);
    put64(t + 8, s->count);
    put64(t + 16, s->bytes);
    rc = out(s, t, sizeof t);
  }
  if (rc == MACHO_OK) {
    unsigned char sum[8];
    put64(sum, XXH3_64bits_digest(&xx));
    rc = out(s, sum, 8);
  }
  if (rc == MACHO_OK && s->len && write(ctx, s->buf, s->len) != 0) rc = MACHO_EIO;
  macho__free_untracked(&c->alloc, s->buf, OUT_CHUNK);
  macho__free_untracked(&c->alloc, s, sizeof *s);
  return rc;
}

typedef struct file_out {
  int fd;
} file_out;

static int write_fd(void *ctx, const void *data, size_t n) {
  file_out *f = ctx;
  const char *p = data;
  while (n) {
    ssize_t w = write(f->fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int macho_save(macho_cache *c, const char *path) {
  if (!c || !path || !*path) return MACHO_EINVAL;
  if (c->object_mode && !c->cfg.dump) return MACHO_ENOTSUP;
  size_t n = strlen(path);
  if (n + 16 > PATH_MAX) return MACHO_EINVAL;
  char tmp[PATH_MAX], dir[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
  int fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0) return MACHO_EIO;
  file_out f = {fd};
  int rc = macho_save_to(c, write_fd, &f);
  if (rc == MACHO_OK && fsync(fd) != 0) rc = MACHO_EIO;
  if (close(fd) != 0 && rc == MACHO_OK) rc = MACHO_EIO;
  if (rc == MACHO_OK && rename(tmp, path) != 0) rc = MACHO_EIO;
  if (rc != MACHO_OK) {
    int saved = errno;
    unlink(tmp);
    errno = saved;
    return rc;
  }
  /* The rename is durable once the directory is. */
  const char *slash = strrchr(path, '/');
  if (slash == path) snprintf(dir, sizeof dir, "/");
  else if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
  else snprintf(dir, sizeof dir, ".");
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return MACHO_EIO;
  if (fsync(dfd) != 0) rc = MACHO_EIO;
  close(dfd);
  return rc;
}

/* ---- loading ----------------------------------------------------------------------- */
typedef struct record {
  const unsigned char *key, *value;
  uint32_t klen, vlen;
  uint64_t ttl_ns;
  uint32_t rank;
  uint32_t pos; /* in the file: ties keep file order */
  void *kobj, *vobj;
} record;

static int by_rank(const void *a, const void *b) {
  const record *x = a, *y = b;
  if (x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}
static int by_rank_desc(const void *a, const void *b) { return by_rank(b, a); }

/* Everything about the bytes, before the cache is touched. */
static int check(macho_cache *c, const unsigned char *d, size_t n, uint64_t *count, uint64_t *saved_wall) {
  if (n < 8) return n && memcmp(d, SNAP_MAGIC, n) == 0 ? MACHO_ETRUNCATED : n ? MACHO_EFORMAT : MACHO_ETRUNCATED;
  if (memcmp(d, SNAP_MAGIC, 8) != 0) return MACHO_EFORMAT;
  if (n < HEADER_SIZE) return MACHO_ETRUNCATED;
  uint32_t version = get32(d + 8);
  if (version > SNAP_VERSION) return MACHO_EVERSION;
  if (version == 0) return MACHO_ECORRUPT;
  if (n < HEADER_SIZE + TRAILER_SIZE) return MACHO_ETRUNCATED;
  const unsigned char *t = d + n - TRAILER_SIZE;
  if (memcmp(t, SNAP_END, 8) != 0) return MACHO_ETRUNCATED;
  if (XXH3_64bits(d, n - 8) != get64(t + 24)) return MACHO_ECORRUPT;
  uint32_t flags = get32(d + 12);
  if (flags & ~SNAP_FLAG_OBJECTS) return MACHO_ECORRUPT;
  if (!(flags & SNAP_FLAG_OBJECTS) != !c->object_mode) return MACHO_EMODE;
  *count = get64(t + 8);
  uint64_t bytes = get64(t + 16);
  if (bytes != n - HEADER_SIZE - TRAILER_SIZE) return MACHO_ECORRUPT;
  if (*count > bytes / RECORD_HEAD) return MACHO_ECORRUPT;
  *saved_wall = get64(d + 16);
  return MACHO_OK;
}

static void release_objects(macho_cache *c, record *r, uint64_t n) {
  for (uint64_t i = 0; i < n; i++) {
    if (r[i].kobj) c->obj_ops.release(c->obj_ops.ctx, r[i].kobj);
    if (r[i].vobj) c->obj_ops.release(c->obj_ops.ctx, r[i].vobj);
  }
}

int macho_load_from(macho_cache *c, const void *data, size_t n) {
  if (!c || (!data && n)) return MACHO_EINVAL;
  if (c->object_mode && !c->cfg.undump) return MACHO_ENOTSUP;
  const unsigned char *d = data;
  uint64_t count = 0, saved_wall = 0;
  int rc = check(c, d, n, &count, &saved_wall);
  if (rc != MACHO_OK) return rc;
  size_t rbytes = (size_t)(count ? count : 1) * sizeof(record);
  record *r = macho__malloc_untracked(&c->alloc, rbytes);
  if (!r) return MACHO_ENOMEM;
  const unsigned char *p = d + HEADER_SIZE, *end = d + n - TRAILER_SIZE;
  for (uint64_t i = 0; i < count; i++) {
    if ((size_t)(end - p) < RECORD_HEAD) {
      rc = MACHO_ECORRUPT;
      break;
    }
    record *x = &r[i];
    x->klen = get32(p);
    x->vlen = get32(p + 4);
    x->ttl_ns = get64(p + 8);
    x->rank = get32(p + 16);
    x->pos = (uint32_t)i;
    x->kobj = x->vobj = NULL;
    p += RECORD_HEAD;
    if ((uint64_t)(end - p) < (uint64_t)x->klen + x->vlen || x->ttl_ns == 0) {
      rc = MACHO_ECORRUPT;
      break;
    }
    x->key = p;
    x->value = p + x->klen;
    p += (size_t)x->klen + x->vlen;
  }
  if (rc == MACHO_OK && p != end) rc = MACHO_ECORRUPT;
  /* Object mode: every object made before anything goes in. */
  uint64_t made = 0;
  for (; rc == MACHO_OK && c->object_mode && made < count; made++) {
    record *x = &r[made];
    if (c->cfg.undump(c->obj_ops.ctx, x->key, x->klen, &x->kobj) != 0) rc = MACHO_ECALLBACK;
    else if (c->cfg.undump(c->obj_ops.ctx, x->value, x->vlen, &x->vobj) != 0) rc = MACHO_ECALLBACK;
    else if (!x->kobj) rc = MACHO_ECALLBACK; /* a NULL key cannot be stored */
    if (rc != MACHO_OK) made++; /* what this record made is released too */
  }
  if (rc != MACHO_OK) {
    if (c->object_mode) release_objects(c, r, made);
    macho__free_untracked(&c->alloc, r, rbytes);
    return rc;
  }
  /* Time that passed since the save counts against the TTLs (system clock
   * only: an injected clock is its own time line). */
  uint64_t elapsed = 0;
  if (!c->cfg.clock) {
    uint64_t now = wall_ns();
    elapsed = now > saved_wall ? now - saved_wall : 0;
  }
  /* Coldest first, so that the hottest end up the most recent; a policy
   * with an admission filter keeps the first comers instead: hottest first. */
  qsort(r, count, sizeof *r, c->shards[0].pol->admission ? by_rank_desc : by_rank);
  for (uint64_t i = 0; i < count && rc == MACHO_OK; i++) {
    record *x = &r[i];
    if (x->ttl_ns != UINT64_MAX && x->ttl_ns <= elapsed) continue; /* expired meanwhile */
    double ttl = x->ttl_ns == UINT64_MAX ? 0 : (double)(x->ttl_ns - elapsed) / 1e9;
    int prc = c->object_mode ? macho_obj_put_ttl(c, x->kobj, x->vobj, ttl)
                             : macho_put_ttl(c, x->key, x->klen, x->value, x->vlen, ttl);
    /* An entry too big for this cache's budget stays out; running out of
     * memory stops the load (what went in stays). */
    if (prc != MACHO_OK && prc != MACHO_ETOOBIG) rc = prc;
  }
  if (c->object_mode) release_objects(c, r, count);
  macho__free_untracked(&c->alloc, r, rbytes);
  return rc;
}

int macho_load(macho_cache *c, const char *path) {
  if (!c || !path) return MACHO_EINVAL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return MACHO_EIO;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return MACHO_EIO;
  }
  size_t n = (size_t)st.st_size;
  unsigned char *buf = macho__malloc_untracked(&c->alloc, n ? n : 1);
  if (!buf) {
    close(fd);
    return MACHO_ENOMEM;
  }
  size_t got = 0;
  while (got < n) {
    ssize_t k = read(fd, buf + got, n - got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    got += (size_t)k;
  }
  close(fd);
  int rc = got == n ? macho_load_from(c, buf, n) : MACHO_EIO;
  macho__free_untracked(&c->alloc, buf, n ? n : 1);
  return rc;
}
