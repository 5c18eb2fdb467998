/*
 * _macho.c -- the CPython extension under `macho`: a thin type over
 * libmacho's object mode, where keys and values are PyObject pointers.
 *
 * The idea: libmacho already knows how to hold foreign objects safely. It
 * calls back for hash and equality with no lock held (so __eq__ may re-enter
 * the cache, as in CPython's dict and functools.lru_cache), retains under a
 * shard lock (Py_INCREF only, no Python code), and releases with no lock held
 * (Py_DECREF may run __del__, which may use the cache). The binding keeps the
 * GIL across every libmacho call. Python code only runs inside those callbacks,
 * where the library holds no lock, so a thread that gives up the GIL never
 * holds a shard lock, and a thread that holds the GIL never waits for one that
 * another GIL-less Python thread holds: the GIL and the shard locks cannot
 * deadlock. The shard locks still matter: they keep the cache consistent when
 * Python code interleaves with a call halfway through (a mutating __eq__).
 *
 * Hot paths (get, add) use METH_FASTCALL with a hand-written argument
 * parser: no tuple or dict is built per call, which is what keeps `get`
 * within a small factor of a plain dict lookup (docs/BENCHMARKS.md).
 *
 * Errors: a callback that fails leaves its Python exception set and returns
 * nonzero; libmacho then returns MACHO_ECALLBACK, and the binding returns
 * NULL so the exception propagates unchanged. Other statuses map to
 * MemoryError (ENOMEM), ValueError (EINVAL) or RuntimeError.
 *
 * This file includes only macho.h, as tools/ and python/ must.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "macho/macho.h"

typedef struct {
  PyObject_HEAD
  macho_cache *cache;
  macho_dashboard *dash;
  /* Test clock (nanoseconds), used when the cache was opened with
   * manual_clock=True: TTL tests advance it instead of sleeping. Atomic
   * because a dashboard thread may read the clock without the GIL. */
  _Atomic uint64_t manual_now_ns;
  PyObject *weakreflist;
} CacheObject;

/* ---- object-mode callbacks ------------------------------------------------ */

static int py_hash(void *ctx, const void *key, uint64_t *out) {
  (void)ctx;
  Py_hash_t h = PyObject_Hash((PyObject *)key);
  if (h == -1) return -1; /* -1 is never a valid hash: the exception is set */
  *out = (uint64_t)h;
  return 0;
}

static int py_equal(void *ctx, const void *a, const void *b) {
  (void)ctx;
  return PyObject_RichCompareBool((PyObject *)a, (PyObject *)b, Py_EQ);
}

static void py_retain(void *ctx, void *obj) {
  (void)ctx;
  Py_INCREF((PyObject *)obj);
}

static void py_release(void *ctx, void *obj) {
  (void)ctx;
  Py_DECREF((PyObject *)obj);
}

static const macho_object_ops py_ops = {py_hash, py_equal, py_retain, py_release, NULL};

/* CLOCK_MONOTONIC_COARSE: a memory read in the vDSO (about 4 ns here, against
 * 31 ns for CLOCK_MONOTONIC on kvm-clock), at the kernel tick's resolution
 * (4 ms). Used when metrics are off: then only TTL deadlines read the clock,
 * and a deadline a few milliseconds late is harmless. */
static uint64_t coarse_clock(void *ctx) {
  (void)ctx;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t manual_clock(void *ctx) {
  return atomic_load_explicit(&((CacheObject *)ctx)->manual_now_ns, memory_order_relaxed);
}

/* ---- helpers ------------------------------------------------------------------ */

/* Turn a libmacho status into a Python exception (NULL for convenience). */
static PyObject *raise_status(int rc) {
  if (rc == MACHO_ECALLBACK && PyErr_Occurred()) return NULL;
  if (PyErr_Occurred()) return NULL;
  switch (rc) {
  case MACHO_ENOMEM: return PyErr_NoMemory();
  case MACHO_EINVAL: PyErr_Format(PyExc_ValueError, "macho: %s", macho_strerror(rc)); break;
  case MACHO_ENOTSUP: PyErr_Format(PyExc_NotImplementedError, "macho: %s", macho_strerror(rc)); break;
  default: PyErr_Format(PyExc_RuntimeError, "macho: %s (%s)", macho_strerror(rc), macho_status_name(rc));
  }
  return NULL;
}

/* macho_dashboard_stop, when this build has a dashboard (setup.py defines
 * MACHO_PY_HAVE_DASHBOARD when src/dashboard/ implements it). */
static void dash_stop(macho_dashboard *d) {
#ifdef MACHO_PY_HAVE_DASHBOARD
  macho_dashboard_stop(d);
#else
  (void)d;
#endif
}

static inline int ready(CacheObject *self) {
  if (self->cache) return 1;
  PyErr_SetString(PyExc_RuntimeError, "Cache is not initialised (its __init__ failed or was not called)");
  return 0;
}

/* A tiny FASTCALL parser: fills out[0..nmax) from positional args then
 * keywords (names[i]), leaving absent optional slots NULL. Aliases let a
 * keyword have a second accepted name (the original's add(key, entry)). */
static int parse_fast(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                      const char *const *names, const char *const *aliases, int nreq, int nmax,
                      PyObject **out) {
  if (nargs > nmax) {
    PyErr_Format(PyExc_TypeError, "%s() takes at most %d arguments (%zd given)", fname, nmax, nargs);
    return -1;
  }
  for (int i = 0; i < nmax; i++) out[i] = i < nargs ? args[i] : NULL;
  if (kwnames) {
    Py_ssize_t nkw = PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t k = 0; k < nkw; k++) {
      PyObject *name = PyTuple_GET_ITEM(kwnames, k);
      int slot = -1;
      for (int i = 0; i < nmax && slot < 0; i++)
        if (PyUnicode_CompareWithASCIIString(name, names[i]) == 0 ||
            (aliases && aliases[i] && PyUnicode_CompareWithASCIIString(name, aliases[i]) == 0))
          slot = i;
      if (slot < 0) {
        PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", fname, name);
        return -1;
      }
      if (out[slot]) {
        PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", fname,
                     names[slot]);
        return -1;
      }
      out[slot] = args[nargs + k];
    }
  }
  for (int i = 0; i < nreq; i++)
    if (!out[i]) {
      PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", fname, names[i]);
      return -1;
    }
  return 0;
}

/* A TTL in seconds from a Python number: > 0, or +inf for "never". */
static int ttl_from(PyObject *o, const char *what, double *out) {
  if (PyBool_Check(o) || !(PyFloat_Check(o) || PyLong_Check(o))) {
    PyErr_Format(PyExc_TypeError, "%s must be a float or int number of seconds, not %.100s", what,
                 Py_TYPE(o)->tp_name);
    return -1;
  }
  double t = PyFloat_AsDouble(o);
  if (t == -1.0 && PyErr_Occurred()) return -1;
  if (isnan(t) || t <= 0) {
    PyErr_Format(PyExc_ValueError,
                 "%s must be a positive number of seconds (float('inf') = never expires), got %R",
                 what, o);
    return -1;
  }
  *out = t;
  return 0;
}

/* ---- lifetime ------------------------------------------------------------------- */

static int Cache_init(CacheObject *self, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"capacity", "ttl", "shards", "policy", "filter", "fp_rate",
                           "seed", "manual_clock", "metrics", NULL};
  Py_ssize_t capacity = 100;
  double ttl = 600.0, fp_rate = 0.5;
  Py_ssize_t shards = 1;
  const char *policy = "lru", *filter = "none";
  unsigned long long seed = 0;
  int manual = 0, metrics = 1;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "|ndnssdKpp:CacheCore", kwlist, &capacity, &ttl,
                                   &shards, &policy, &filter, &fp_rate, &seed, &manual, &metrics))
    return -1;
  if (self->cache) {
    /* Replacing the cache under a call that is running Python code (an
     * __eq__ of this cache's lookup, in another thread) would free it there. */
    PyErr_SetString(PyExc_RuntimeError, "a Cache cannot be initialised twice");
    return -1;
  }
  macho_config cfg;
  macho_config_init(&cfg);
  if (capacity < 1 || shards < 1 || shards > UINT32_MAX) {
    PyErr_SetString(PyExc_ValueError, "capacity and shards must be at least 1");
    return -1;
  }
  cfg.capacity_entries = (size_t)capacity;
  cfg.shards = (uint32_t)shards;
  cfg.ttl_seconds = isinf(ttl) ? 0.0 : ttl;
  if (isnan(ttl) || ttl <= 0) {
    PyErr_SetString(PyExc_ValueError, "ttl must be a positive number of seconds");
    return -1;
  }
  if (macho_policy_parse(policy, &cfg.policy) != MACHO_OK || !macho_policy_available(cfg.policy)) {
    PyErr_Format(PyExc_ValueError, "policy '%s' is unknown or not built", policy);
    return -1;
  }
  if (macho_filter_parse(filter, &cfg.filter) != MACHO_OK || !macho_filter_available(cfg.filter)) {
    PyErr_Format(PyExc_ValueError, "filter '%s' is unknown or not built", filter);
    return -1;
  }
  cfg.filter_fp_rate = fp_rate;
  cfg.seed = seed;
  cfg.object_ops = &py_ops;
  cfg.metrics = metrics ? 1 : 0;
  if (!metrics) cfg.clock = coarse_clock;
  if (manual) {
    atomic_store(&self->manual_now_ns, (uint64_t)1000000000u);
    cfg.clock = manual_clock;
    cfg.clock_ctx = self;
  }
  const char *why = NULL;
  if (macho_config_check(&cfg, &why) != MACHO_OK) {
    PyErr_Format(PyExc_ValueError, "invalid cache configuration: %s", why ? why : "?");
    return -1;
  }
  macho_cache *c = NULL;
  int rc = macho_open(&cfg, &c);
  if (rc != MACHO_OK) {
    raise_status(rc);
    return -1;
  }
  self->cache = c;
  return 0;
}

static void Cache_dealloc(CacheObject *self) {
  if (self->weakreflist) PyObject_ClearWeakRefs((PyObject *)self);
  /* The dashboard reads the cache from its own thread: stop it first. */
  dash_stop(self->dash);
  self->dash = NULL;
  macho_cache *c = self->cache;
  self->cache = NULL;
  macho_close(c); /* releases every key and value */
  Py_TYPE(self)->tp_free((PyObject *)self);
}

/* ---- operations ------------------------------------------------------------------ */

static const char *const get_names[] = {"key", "default"};

static PyObject *Cache_get(CacheObject *self, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames) {
  PyObject *a[2];
  if (kwnames == NULL && (nargs == 1 || nargs == 2)) {
    a[0] = args[0];
    a[1] = nargs == 2 ? args[1] : NULL;
  } else if (parse_fast("get", args, nargs, kwnames, get_names, NULL, 1, 2, a) < 0) {
    return NULL;
  }
  if (!ready(self)) return NULL;
  void *v = NULL;
  int rc = macho_obj_get(self->cache, a[0], &v);
  if (rc == MACHO_OK) return (PyObject *)v; /* a new reference, retained by the cache */
  if (rc == MACHO_ENOTFOUND) {
    PyObject *d = a[1] ? a[1] : Py_None;
    Py_INCREF(d);
    return d;
  }
  return raise_status(rc);
}

static const char *const add_names[] = {"key", "value", "ttl"};
/* The original macho named add's second parameter `entry`. */
static const char *const add_aliases[] = {NULL, "entry", NULL};

static PyObject *Cache_add(CacheObject *self, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames) {
  PyObject *a[3];
  if (kwnames == NULL && nargs == 2) {
    a[0] = args[0];
    a[1] = args[1];
    a[2] = NULL;
  } else if (parse_fast("add", args, nargs, kwnames, add_names, add_aliases, 2, 3, a) < 0) {
    return NULL;
  }
  if (!ready(self)) return NULL;
  int rc;
  if (a[2] && a[2] != Py_None) {
    double ttl;
    if (ttl_from(a[2], "ttl", &ttl) < 0) return NULL;
    rc = macho_obj_put_ttl(self->cache, a[0], a[1], isinf(ttl) ? 0.0 : ttl);
  } else {
    rc = macho_obj_put(self->cache, a[0], a[1]);
  }
  if (rc != MACHO_OK) return raise_status(rc);
  Py_RETURN_NONE;
}

static PyObject *Cache_delete(CacheObject *self, PyObject *key) {
  if (!ready(self)) return NULL;
  int rc = macho_obj_delete(self->cache, key);
  if (rc == MACHO_OK) Py_RETURN_TRUE;
  if (rc == MACHO_ENOTFOUND) Py_RETURN_FALSE;
  return raise_status(rc);
}

static int Cache_contains(CacheObject *self, PyObject *key) {
  if (!ready(self)) return -1;
  int rc = macho_obj_contains(self->cache, key);
  if (rc == MACHO_OK) return 1;
  if (rc == MACHO_ENOTFOUND) return 0;
  raise_status(rc);
  return -1;
}

static PyObject *Cache_subscript(CacheObject *self, PyObject *key) {
  if (!ready(self)) return NULL;
  void *v = NULL;
  int rc = macho_obj_get(self->cache, key, &v);
  if (rc == MACHO_OK) return (PyObject *)v;
  if (rc == MACHO_ENOTFOUND) {
    PyObject *t = PyTuple_Pack(1, key); /* KeyError(key), as a dict raises it */
    if (t) {
      PyErr_SetObject(PyExc_KeyError, t);
      Py_DECREF(t);
    }
    return NULL;
  }
  return raise_status(rc);
}

static Py_ssize_t Cache_len(CacheObject *self) {
  if (!ready(self)) return -1;
  return (Py_ssize_t)macho_len(self->cache);
}

static PyObject *Cache_clear(CacheObject *self, PyObject *unused) {
  (void)unused;
  if (!ready(self)) return NULL;
  int rc = macho_clear(self->cache);
  if (rc != MACHO_OK) return raise_status(rc);
  Py_RETURN_NONE;
}

static PyObject *Cache_expire(CacheObject *self, PyObject *unused) {
  (void)unused;
  if (!ready(self)) return NULL;
  size_t n = 0;
  int rc = macho_expire(self->cache, &n);
  if (rc != MACHO_OK) return raise_status(rc);
  return PyLong_FromSize_t(n);
}

static int collect_key(void *ctx, const void *key, size_t klen) {
  (void)klen;
  return PyList_Append((PyObject *)ctx, (PyObject *)key) < 0 ? 1 : 0;
}

static PyObject *Cache_keys(CacheObject *self, PyObject *unused) {
  (void)unused;
  if (!ready(self)) return NULL;
  PyObject *list = PyList_New(0);
  if (!list) return NULL;
  int rc = macho_foreach_key(self->cache, collect_key, list);
  if (rc != MACHO_OK) {
    Py_DECREF(list);
    return rc == 1 ? NULL : raise_status(rc); /* 1: PyList_Append failed, exception set */
  }
  return list;
}

static PyObject *Cache_advance_clock(CacheObject *self, PyObject *arg) {
  if (!ready(self)) return NULL;
  macho_config cfg;
  if (macho_config_get(self->cache, &cfg) != MACHO_OK || cfg.clock != manual_clock) {
    PyErr_SetString(PyExc_RuntimeError, "the cache was not opened with manual_clock=True");
    return NULL;
  }
  double s = PyFloat_AsDouble(arg);
  if (s == -1.0 && PyErr_Occurred()) return NULL;
  if (!(s >= 0) || s > 1e9) {
    PyErr_SetString(PyExc_ValueError, "seconds must be in [0, 1e9]");
    return NULL;
  }
  atomic_fetch_add(&self->manual_now_ns, (uint64_t)llround(s * 1e9));
  Py_RETURN_NONE;
}

/* ---- counters ---------------------------------------------------------------------- */

static int dict_set_u64(PyObject *d, const char *k, uint64_t v) {
  PyObject *o = PyLong_FromUnsignedLongLong(v);
  if (!o) return -1;
  int r = PyDict_SetItemString(d, k, o);
  Py_DECREF(o);
  return r;
}

/* The optional shard-index argument of _counters()/_stats(): -1 (the
 * default) means the whole cache. 0 on success, -1 with an exception set. */
static int shard_arg(CacheObject *self, PyObject *const *args, Py_ssize_t nargs, const char *fname,
                     long *out) {
  long shard = -1;
  if (nargs > 1) {
    PyErr_Format(PyExc_TypeError, "%s() takes at most one argument (a shard index)", fname);
    return -1;
  }
  if (nargs == 1) {
    shard = PyLong_AsLong(args[0]);
    if (shard == -1 && PyErr_Occurred()) return -1;
  }
  if (shard < -1 || shard >= (long)macho_shard_count(self->cache)) {
    PyErr_Format(PyExc_IndexError, "shard %ld out of range", shard);
    return -1;
  }
  *out = shard;
  return 0;
}

static PyObject *Cache_counters(CacheObject *self, PyObject *const *args, Py_ssize_t nargs) {
  long shard;
  if (!ready(self) || shard_arg(self, args, nargs, "_counters", &shard) < 0) return NULL;
  macho_counters k;
  int rc = macho_counters_get(self->cache, (int)shard, &k);
  if (rc != MACHO_OK) return raise_status(rc);
  PyObject *d = PyDict_New();
  if (!d) return NULL;
#define PUT(f) if (dict_set_u64(d, #f, k.f) < 0) goto fail;
  PUT(hits) PUT(misses) PUT(gets) PUT(puts) PUT(deletes) PUT(requests) PUT(evictions)
  PUT(expirations) PUT(entries) PUT(capacity_entries) PUT(memory_bytes) PUT(filter_queries)
  PUT(filter_negatives) PUT(filter_false_positives)
#undef PUT
  return d;
fail:
  Py_DECREF(d);
  return NULL;
}

/* ---- statistics (macho_stats_get): distributions as dicts in seconds ------------------ */

static int dict_set_f(PyObject *d, const char *k, double v) {
  PyObject *o = PyFloat_FromDouble(v);
  if (!o) return -1;
  int r = PyDict_SetItemString(d, k, o);
  Py_DECREF(o);
  return r;
}

static PyObject *dist_dict(const macho_distribution *x) {
  PyObject *d = PyDict_New();
  if (!d) return NULL;
  if (dict_set_u64(d, "count", x->count) < 0 || dict_set_f(d, "min", x->min / 1e9) < 0 ||
      dict_set_f(d, "max", x->max / 1e9) < 0 || dict_set_f(d, "sum", x->sum / 1e9) < 0 ||
      dict_set_f(d, "mean", x->mean / 1e9) < 0 || dict_set_f(d, "p50", x->p50 / 1e9) < 0 ||
      dict_set_f(d, "p90", x->p90 / 1e9) < 0 || dict_set_f(d, "p99", x->p99 / 1e9) < 0 ||
      dict_set_f(d, "p999", x->p999 / 1e9) < 0) {
    Py_DECREF(d);
    return NULL;
  }
  return d;
}

static int dict_set_dist(PyObject *d, const char *k, const macho_distribution *x) {
  PyObject *o = dist_dict(x);
  if (!o) return -1;
  int r = PyDict_SetItemString(d, k, o);
  Py_DECREF(o);
  return r;
}

/* Merge several distributions of one snapshot (same bucket bounds, each
 * ascending) into *out, whose buckets go to a new array the caller frees. */
static int dist_merge(const macho_distribution *const *in, int n, macho_distribution *out,
                      macho_bucket **owned) {
  memset(out, 0, sizeof *out);
  *owned = NULL;
  size_t total = 0;
  for (int i = 0; i < n; i++) total += in[i]->nbuckets;
  macho_bucket *b = PyMem_Malloc((total ? total : 1) * sizeof *b);
  if (!b) return -1;
  uint32_t pos[MACHO_REMOVED_COUNT] = {0};
  size_t nb = 0;
  for (;;) {
    int best = -1; /* the input whose next bucket starts lowest */
    for (int i = 0; i < n; i++)
      if (pos[i] < in[i]->nbuckets &&
          (best < 0 || in[i]->buckets[pos[i]].lo < in[best]->buckets[pos[best]].lo))
        best = i;
    if (best < 0) break;
    const macho_bucket *x = &in[best]->buckets[pos[best]++];
    if (nb && b[nb - 1].lo == x->lo) b[nb - 1].count += x->count;
    else b[nb++] = *x;
  }
  for (int i = 0; i < n; i++) {
    const macho_distribution *x = in[i];
    if (!x->count) continue;
    if (!out->count || x->min < out->min) out->min = x->min;
    if (x->max > out->max) out->max = x->max;
    out->count += x->count;
    out->sum += x->sum;
  }
  out->buckets = b;
  out->nbuckets = (uint32_t)nb;
  if (out->count) {
    out->mean = (double)out->sum / (double)out->count;
    out->p50 = macho_distribution_quantile(out, 0.5);
    out->p90 = macho_distribution_quantile(out, 0.9);
    out->p99 = macho_distribution_quantile(out, 0.99);
    out->p999 = macho_distribution_quantile(out, 0.999);
  }
  *owned = b;
  return 0;
}

static const char *const reason_names[MACHO_REMOVED_COUNT] = {
    [MACHO_REMOVED_EVICTED] = "evicted", [MACHO_REMOVED_EXPIRED] = "expired",
    [MACHO_REMOVED_DELETED] = "deleted", [MACHO_REMOVED_REPLACED] = "replaced",
    [MACHO_REMOVED_CLEARED] = "cleared"};

static PyObject *Cache_stats(CacheObject *self, PyObject *const *args, Py_ssize_t nargs) {
  long shard;
  if (!ready(self) || shard_arg(self, args, nargs, "_stats", &shard) < 0) return NULL;
  macho_stats *st = NULL;
  int rc = macho_stats_get(self->cache, (int)shard, &st);
  if (rc != MACHO_OK) return raise_status(rc);
  PyObject *d = PyDict_New(), *by = PyDict_New();
  macho_bucket *owned = NULL;
  if (!d || !by) goto fail;
  if (dict_set_dist(d, "get_latency", &st->get_latency_ns) < 0 ||
      dict_set_dist(d, "put_latency", &st->put_latency_ns) < 0 ||
      dict_set_u64(d, "latency_sample_every", st->latency_sample_every) < 0)
    goto fail;
  for (int r = 0; r < MACHO_REMOVED_COUNT; r++)
    if (r != MACHO_REMOVED_REPLACED && dict_set_dist(by, reason_names[r], &st->lifespan_ns[r]) < 0)
      goto fail;
  if (PyDict_SetItemString(d, "lifespan_by_reason", by) < 0) goto fail;
  /* "lifespan" as the original meant it: entries that left while the cache
   * was in use (evicted, expired, deleted), not those dropped by clear(). */
  const macho_distribution *parts[] = {&st->lifespan_ns[MACHO_REMOVED_EVICTED],
                                       &st->lifespan_ns[MACHO_REMOVED_EXPIRED],
                                       &st->lifespan_ns[MACHO_REMOVED_DELETED]};
  macho_distribution merged;
  if (dist_merge(parts, 3, &merged, &owned) < 0) {
    PyErr_NoMemory();
    goto fail;
  }
  if (dict_set_dist(d, "lifespan", &merged) < 0) goto fail;
  PyMem_Free(owned);
  Py_DECREF(by);
  macho_stats_free(st);
  return d;
fail:
  PyMem_Free(owned);
  Py_XDECREF(by);
  Py_XDECREF(d);
  macho_stats_free(st);
  return NULL;
}

static PyObject *Cache_stats_reset(CacheObject *self, PyObject *unused) {
  (void)unused;
  if (!ready(self)) return NULL;
  int rc = macho_stats_reset(self->cache);
  if (rc != MACHO_OK) return raise_status(rc);
  Py_RETURN_NONE;
}

static PyObject *Cache_shard_count(CacheObject *self, void *closure) {
  (void)closure;
  if (!ready(self)) return NULL;
  return PyLong_FromUnsignedLong(macho_shard_count(self->cache));
}

/* ---- dashboard --------------------------------------------------------------------- */

static PyObject *Cache_dashboard_start(CacheObject *self, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"listen", "token", NULL};
  const char *listen = NULL, *token = NULL;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "|zz:_dashboard_start", kwlist, &listen, &token))
    return NULL;
  if (!ready(self)) return NULL;
#ifdef MACHO_PY_HAVE_DASHBOARD
  if (!self->dash) {
    macho_dashboard_options opts;
    macho_dashboard_options_init(&opts);
    if (listen) opts.listen = listen;
    if (token) opts.token = token;
    int rc = macho_dashboard_start(self->cache, &opts, &self->dash);
    if (rc != MACHO_OK) {
      self->dash = NULL;
      if (rc == MACHO_EINVAL) {
        PyErr_Format(PyExc_ValueError, "cannot start the dashboard on %s: %s",
                     listen ? listen : "127.0.0.1:0", macho_strerror(rc));
        return NULL;
      }
      if (rc == MACHO_EIO || rc == MACHO_EBUSY) {
        PyErr_Format(PyExc_OSError, "cannot start the dashboard on %s: %s",
                     listen ? listen : "127.0.0.1:0", macho_strerror(rc));
        return NULL;
      }
      return raise_status(rc);
    }
  }
  return PyUnicode_FromString(macho_dashboard_url(self->dash));
#else
  PyErr_SetString(PyExc_NotImplementedError,
                  "this build of libmacho has no dashboard (src/dashboard/ was empty at build time)");
  return NULL;
#endif
}

static PyObject *Cache_dashboard_stop(CacheObject *self, PyObject *unused) {
  (void)unused;
  macho_dashboard *d = self->dash;
  self->dash = NULL;
  dash_stop(d);
  Py_RETURN_NONE;
}

/* ---- type ---------------------------------------------------------------------------- */

static PyMethodDef Cache_methods[] = {
    {"get", (PyCFunction)(void (*)(void))Cache_get, METH_FASTCALL | METH_KEYWORDS,
     "get(key, default=None)\n--\n\nThe value stored under key, or default when absent or "
     "expired. Counts a request and a hit or a miss."},
    {"add", (PyCFunction)(void (*)(void))Cache_add, METH_FASTCALL | METH_KEYWORDS,
     "add(key, value, ttl=None)\n--\n\nInsert or replace key -> value; evicts by the strategy "
     "when full. ttl (seconds, > 0, inf = never) overrides the cache's ttl for this entry."},
    {"delete", (PyCFunction)Cache_delete, METH_O,
     "delete(key)\n--\n\nRemove key; True when it was present, False otherwise."},
    {"clear", (PyCFunction)Cache_clear, METH_NOARGS, "clear()\n--\n\nDrop every entry."},
    {"expire", (PyCFunction)Cache_expire, METH_NOARGS,
     "expire()\n--\n\nReclaim every expired entry now; returns how many."},
    {"keys", (PyCFunction)Cache_keys, METH_NOARGS,
     "keys()\n--\n\nA list of the keys stored now (a snapshot, in no particular order)."},
    {"_advance_clock", (PyCFunction)Cache_advance_clock, METH_O,
     "Test hook: move a manual_clock cache's clock forward by some seconds."},
    {"_counters", (PyCFunction)(void (*)(void))Cache_counters, METH_FASTCALL,
     "_counters(shard=-1): libmacho's counters for one shard or (-1) the whole cache."},
    {"_stats", (PyCFunction)(void (*)(void))Cache_stats, METH_FASTCALL,
     "_stats(shard=-1): latency and lifespan distributions (seconds) from macho_stats_get."},
    {"_stats_reset", (PyCFunction)Cache_stats_reset, METH_NOARGS,
     "Zero the counters and distributions (macho_stats_reset)."},
    {"_dashboard_start", (PyCFunction)(void (*)(void))Cache_dashboard_start,
     METH_VARARGS | METH_KEYWORDS, "_dashboard_start(listen=None, token=None) -> url"},
    {"_dashboard_stop", (PyCFunction)Cache_dashboard_stop, METH_NOARGS, "Stop the dashboard."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Cache_getset[] = {
    {"_shards", (getter)Cache_shard_count, NULL, "number of shards", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PySequenceMethods Cache_as_sequence = {
    .sq_contains = (objobjproc)Cache_contains,
};

static PyMappingMethods Cache_as_mapping = {
    .mp_length = (lenfunc)Cache_len,
    .mp_subscript = (binaryfunc)Cache_subscript,
};

static PyTypeObject CacheType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "macho._macho.CacheCore",
    .tp_doc = "CacheCore(capacity=100, ttl=600.0, shards=1, policy='lru', filter='none', "
              "fp_rate=0.5, seed=0, manual_clock=False, metrics=True)\n--\n\n"
              "libmacho in object mode. Use macho.Cache, which validates arguments the way "
              "the original macho did and adds the metrics properties.",
    .tp_basicsize = sizeof(CacheObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Cache_init,
    .tp_dealloc = (destructor)Cache_dealloc,
    .tp_methods = Cache_methods,
    .tp_getset = Cache_getset,
    .tp_as_sequence = &Cache_as_sequence,
    .tp_as_mapping = &Cache_as_mapping,
    .tp_weaklistoffset = offsetof(CacheObject, weakreflist),
};

/* ---- module ---------------------------------------------------------------------------- */

/* [(name, available), ...] for every policy or filter libmacho knows. */
static PyObject *names_list(int filters) {
  PyObject *list = PyList_New(0);
  if (!list) return NULL;
  int n = filters ? MACHO_FILTER_COUNT : MACHO_POLICY_COUNT;
  for (int i = 0; i < n; i++) {
    const char *name = filters ? macho_filter_name((macho_filter)i) : macho_policy_name((macho_policy)i);
    int avail = filters ? macho_filter_available((macho_filter)i)
                        : macho_policy_available((macho_policy)i);
    PyObject *t = Py_BuildValue("(sO)", name, avail ? Py_True : Py_False);
    if (!t || PyList_Append(list, t) < 0) {
      Py_XDECREF(t);
      Py_DECREF(list);
      return NULL;
    }
    Py_DECREF(t);
  }
  return list;
}

static PyObject *mod_policies(PyObject *m, PyObject *unused) {
  (void)m;
  (void)unused;
  return names_list(0);
}

static PyObject *mod_filters(PyObject *m, PyObject *unused) {
  (void)m;
  (void)unused;
  return names_list(1);
}

static PyMethodDef module_methods[] = {
    {"policies", mod_policies, METH_NOARGS,
     "policies() -> [(name, implemented), ...] for every libmacho eviction policy."},
    {"filters", mod_filters, METH_NOARGS,
     "filters() -> [(name, implemented), ...] for every libmacho membership filter."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef macho_module = {
    PyModuleDef_HEAD_INIT, "macho._macho",
    "libmacho, an in-memory cache in C, in object mode. See the macho package.", -1,
    module_methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__macho(void) {
  if (PyType_Ready(&CacheType) < 0) return NULL;
  PyObject *m = PyModule_Create(&macho_module);
  if (!m) return NULL;
  Py_INCREF(&CacheType);
  if (PyModule_AddObject(m, "CacheCore", (PyObject *)&CacheType) < 0 ||
      PyModule_AddStringConstant(m, "libmacho_version", macho_version_string()) < 0 ||
#ifdef MACHO_PY_HAVE_DASHBOARD
      PyModule_AddIntConstant(m, "HAVE_DASHBOARD", 1) < 0
#else
      PyModule_AddIntConstant(m, "HAVE_DASHBOARD", 0) < 0
#endif
  ) {
    Py_DECREF(&CacheType);
    Py_DECREF(m);
    return NULL;
  }
  return m;
}
