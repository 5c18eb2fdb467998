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
 * Hot paths (get, add, c[k], c[k] = v, del c[k], k in c, len) are C slots or
 * METH_FASTCALL methods with a hand-written argument parser: no tuple, dict
 * or other object is built per call, and the only work on top of the
 * library's is a counter of calls in progress (so that close() from an
 * __eq__ or another thread waits for them instead of freeing the cache under
 * them). Memo is the same idea for memoisation: the hit path of a memoised
 * call is C (key from the argument tuple, one lookup, one counter); only a
 * miss goes to the Python single-flight logic in __init__.py.
 *
 * Errors: a callback that fails leaves its Python exception set and returns
 * nonzero; libmacho then returns MACHO_ECALLBACK, and the binding returns
 * NULL so the exception propagates unchanged. Other statuses map to
 * MemoryError (ENOMEM), ValueError (EINVAL), OSError (dashboard bind) or
 * RuntimeError.
 *
 * This file includes only macho.h, as tools/ and python/ must.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "macho/macho.h"

#if PY_VERSION_HEX < 0x030A0000
static inline PyObject *Py_NewRef(PyObject *o) {
  Py_INCREF(o);
  return o;
}
#endif
#if PY_VERSION_HEX < 0x03090000
#define PyObject_CallNoArgs(f) PyObject_CallObject((f), NULL)
#endif

#if defined(__GNUC__)
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#else
#define likely(x) (x)
#define unlikely(x) (x)
#endif

/* MACHO_EADDRINUSE (-11, "address already in use") comes with the
 * dashboard's branch; the binding maps the number, so it builds before and
 * after that status exists. */
#define PYMACHO_EADDRINUSE (-11)

static PyObject *ClosedError; /* macho.CacheClosedError, a ValueError */

typedef struct {
  PyObject_HEAD
  macho_cache *cache;   /* NULL before __init__ and once closed */
  macho_cache *closing; /* close() asked while calls were running: closed by the last */
  macho_dashboard *dash;
  PyObject *clock;      /* clock= callable (seconds as a float), or NULL */
  /* The clock= reading of the call in progress, in ns: the library's clock
   * function returns it. Atomic because the dashboard thread reads the clock
   * without the GIL. A Python callable is never called by the library itself,
   * which may hold a shard lock when it reads the clock. */
  _Atomic uint64_t now_ns;
  uint32_t active;      /* calls into the library in progress (under the GIL) */
  unsigned char closed; /* close() was called */
  unsigned char instant;/* ttl <= 0 (the original's meaning): entries expire at once */
  unsigned char in_clock; /* clock= is running: a call it makes uses the last reading */
  PyObject *weakreflist;
  /* Features (issue 12): callables the library calls, owned here. */
  PyObject *on_remove; /* fn(key, value, reason), or NULL */
  PyObject *weigher;   /* fn(key, value) -> int, or NULL: sys.getsizeof of both (max_bytes) */
  PyObject *getsizeof; /* sys.getsizeof, for the default weigher */
  PyObject *submit;    /* fn(cache, job): hands a background reload to a Python thread */
  PyObject *pending;   /* list of the reload capsules handed out and not yet run */
  unsigned char has_weigher; /* opened with a weigher (max_bytes= or weigher=) */
} CacheObject;

static PyTypeObject CacheType;
static PyObject *pickle_dumps, *pickle_loads; /* for save/load */

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

static uint64_t user_clock(void *ctx) {
  return atomic_load_explicit(&((CacheObject *)ctx)->now_ns, memory_order_relaxed);
}

/* ---- feature callbacks (ctx = the CacheObject) ---------------------------------------------- */

static const char *const removal_reason[MACHO_REMOVAL_REASONS] = {
    [MACHO_REMOVED_EVICTED] = "evicted", [MACHO_REMOVED_EXPIRED] = "expired",
    [MACHO_REMOVED_DELETED] = "deleted", [MACHO_REMOVED_REPLACED] = "replaced",
    [MACHO_REMOVED_CLEARED] = "cleared", [MACHO_REMOVED_REJECTED] = "rejected"};
static PyObject *reason_str[MACHO_REMOVAL_REASONS];

/* The listener. The library calls it with no lock held, on the thread of
 * the call that removed the entry (which holds the GIL). An exception in it
 * goes to sys.unraisablehook and changes nothing; the exception of the call
 * in progress, if any, is kept aside meanwhile. */
static void py_on_remove(void *ctx, const void *key, size_t klen, const void *value, size_t vlen,
                         macho_removal reason) {
  (void)klen;
  (void)vlen;
  CacheObject *self = ctx;
  PyObject *fn = self->on_remove;
  if (!fn || (unsigned)reason >= MACHO_REMOVAL_REASONS) return;
  PyObject *et, *ev, *tb;
  PyErr_Fetch(&et, &ev, &tb);
  Py_INCREF(fn); /* it may replace or drop itself */
  PyObject *r = PyObject_CallFunctionObjArgs(fn, (PyObject *)key, value ? (PyObject *)value : Py_None,
                                             reason_str[reason], NULL);
  if (r) Py_DECREF(r);
  else PyErr_WriteUnraisable(fn);
  Py_DECREF(fn);
  PyErr_Restore(et, ev, tb);
}

/* An entry's weight for max_bytes: weigher(key, value), or sys.getsizeof of both. */
static int py_weigh(void *ctx, const void *key, const void *value, uint64_t *out) {
  CacheObject *self = ctx;
  PyObject *v = value ? (PyObject *)value : Py_None;
  long long w;
  if (self->weigher) {
    PyObject *r = PyObject_CallFunctionObjArgs(self->weigher, (PyObject *)key, v, NULL);
    if (!r) return -1;
    if (!PyLong_Check(r) || PyBool_Check(r)) {
      PyErr_Format(PyExc_TypeError, "weigher must return an int, not %.100s", Py_TYPE(r)->tp_name);
      Py_DECREF(r);
      return -1;
    }
    w = PyLong_AsLongLong(r);
    Py_DECREF(r);
    if (w == -1 && PyErr_Occurred()) return -1;
  } else if (self->getsizeof) {
    PyObject *a = PyObject_CallFunctionObjArgs(self->getsizeof, (PyObject *)key, NULL);
    PyObject *b = a ? PyObject_CallFunctionObjArgs(self->getsizeof, v, NULL) : NULL;
    long long x = a ? PyLong_AsLongLong(a) : -1, y = b ? PyLong_AsLongLong(b) : -1;
    Py_XDECREF(a);
    Py_XDECREF(b);
    if (!b || PyErr_Occurred()) return -1;
    w = x + y;
  } else {
    w = 0;
  }
  if (w < 0) {
    PyErr_SetString(PyExc_ValueError, "weigher returned a negative weight");
    return -1;
  }
  *out = (uint64_t)w;
  return 0;
}

/* pickle for save/load; the bytes object is the token that keeps the data. */
static int py_dump(void *ctx, const void *obj, const void **data, size_t *len, void **token) {
  (void)ctx;
  PyObject *b = PyObject_CallFunction(pickle_dumps, "Oi", obj ? (PyObject *)obj : Py_None, 4);
  if (!b) return -1;
  if (!PyBytes_Check(b)) {
    Py_DECREF(b);
    PyErr_SetString(PyExc_TypeError, "pickle.dumps did not return bytes");
    return -1;
  }
  *data = PyBytes_AS_STRING(b);
  *len = (size_t)PyBytes_GET_SIZE(b);
  *token = b;
  return 0;
}
static void py_dump_done(void *ctx, void *token) {
  (void)ctx;
  Py_XDECREF((PyObject *)token);
}
static int py_undump(void *ctx, const void *data, size_t len, void **obj) {
  (void)ctx;
  PyObject *b = PyBytes_FromStringAndSize(data, (Py_ssize_t)len);
  if (!b) return -1;
  PyObject *o = PyObject_CallFunctionObjArgs(pickle_loads, b, NULL);
  Py_DECREF(b);
  if (!o) return -1;
  *obj = o; /* a new reference: the library releases it after the put */
  return 0;
}

/* Background reloads run on a Python thread (macho._submit_refresh), so that
 * the loader and every object callback have the GIL. A capsule holds the
 * job; destroyed without having run it, it cancels the job. */
static void job_capsule_free(PyObject *cap) {
  macho_refresh *j = PyCapsule_GetPointer(cap, "macho.refresh");
  if (j && j != (void *)1) macho_refresh_cancel(j);
}

static void py_submit(void *ctx, macho_refresh *job) {
  CacheObject *self = ctx;
  PyObject *et, *ev, *tb;
  PyErr_Fetch(&et, &ev, &tb);
  PyObject *cap = PyCapsule_New(job, "macho.refresh", job_capsule_free);
  if (!cap) {
    macho_refresh_cancel(job);
    PyErr_WriteUnraisable((PyObject *)self);
  } else {
    /* Remembered, so that close() can cancel it if it has not run by then. */
    if (!self->pending) self->pending = PyList_New(0);
    if (!self->pending || PyList_Append(self->pending, cap) < 0) PyErr_WriteUnraisable((PyObject *)self);
    PyObject *r = self->submit ? PyObject_CallFunctionObjArgs(self->submit, (PyObject *)self, cap, NULL) : NULL;
    if (r) Py_DECREF(r);
    else if (PyErr_Occurred()) PyErr_WriteUnraisable((PyObject *)self);
    Py_DECREF(cap); /* the queue holds it now, or dropping it cancels the job */
  }
  PyErr_Restore(et, ev, tb);
}

/* ---- helpers ------------------------------------------------------------------ */

/* Turn a libmacho status into a Python exception (NULL for convenience). */
static PyObject *raise_status(int rc) {
  if (PyErr_Occurred()) return NULL; /* a callback's exception (MACHO_ECALLBACK) */
  switch (rc) {
  case MACHO_ENOMEM: return PyErr_NoMemory();
  case MACHO_EINVAL: PyErr_Format(PyExc_ValueError, "macho: %s", macho_strerror(rc)); break;
  case MACHO_ENOTSUP: PyErr_Format(PyExc_NotImplementedError, "macho: %s", macho_strerror(rc)); break;
  default: PyErr_Format(PyExc_RuntimeError, "macho: %s (%s)", macho_strerror(rc), macho_status_name(rc));
  }
  return NULL;
}

static void key_error(PyObject *key) {
  PyObject *t = PyTuple_Pack(1, key); /* KeyError(key), as a dict raises it */
  if (t) {
    PyErr_SetObject(PyExc_KeyError, t);
    Py_DECREF(t);
  }
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

/* Read the clock= callable into self->now_ns: seconds as a finite float >= 0.
 * Time never goes back: a smaller reading leaves the clock where it was. */
static int read_user_clock(CacheObject *self) {
  PyObject *r = PyObject_CallNoArgs(self->clock);
  if (!r) return -1;
  double s;
  if (PyFloat_CheckExact(r)) {
    s = PyFloat_AS_DOUBLE(r);
  } else if (PyBool_Check(r) || !(PyFloat_Check(r) || PyLong_Check(r))) {
    PyErr_Format(PyExc_TypeError, "the cache's clock() must return seconds as a float, not %.100s",
                 Py_TYPE(r)->tp_name);
    Py_DECREF(r);
    return -1;
  } else {
    s = PyFloat_AsDouble(r); /* an int beyond a double raises OverflowError */
  }
  if (s == -1.0 && PyErr_Occurred()) {
    Py_DECREF(r);
    return -1;
  }
  if (!(s >= 0) || s > 9.2e9) { /* NaN, negative, or past 2**63 ns */
    PyErr_Format(PyExc_ValueError, "the cache's clock() returned %R; it must be seconds in [0, 9.2e9]",
                 r);
    Py_DECREF(r);
    return -1;
  }
  Py_DECREF(r);
  uint64_t ns = (uint64_t)(s * 1e9);
  if (ns > atomic_load_explicit(&self->now_ns, memory_order_relaxed))
    atomic_store_explicit(&self->now_ns, ns, memory_order_relaxed);
  return 0;
}

static void finish_close(CacheObject *self);

static macho_cache *enter_slow(CacheObject *self) {
  if (!self->cache) {
    if (self->closed) PyErr_SetString(ClosedError, "operation on a closed macho.Cache");
    else PyErr_SetString(PyExc_RuntimeError,
                         "Cache is not initialised (its __init__ failed or was not called)");
    return NULL;
  }
  if (self->clock && !self->in_clock) {
    self->active++; /* the clock is Python code: it may close the cache */
    self->in_clock = 1;
    int rc = read_user_clock(self);
    self->in_clock = 0;
    if (--self->active == 0 && self->closing) finish_close(self); /* the clock closed it */
    if (rc < 0) return NULL;
    if (!self->cache) return enter_slow(self); /* closed by the clock: raise */
  }
  self->active++;
  return self->cache;
}

/* Every call that enters the library: enter() -> call -> leave(self). */
static inline macho_cache *enter(CacheObject *self) {
  macho_cache *c = self->cache;
  if (likely(c && !self->clock)) {
    self->active++;
    return c;
  }
  return enter_slow(self);
}

static inline void leave(CacheObject *self) {
  if (--self->active == 0 && unlikely(self->closing != NULL)) finish_close(self);
}

static void finish_close(CacheObject *self) {
  macho_cache *c = self->closing;
  self->closing = NULL;
  /* close releases every object: their __del__ may run and find the cache
   * closed (they raise, as any call after close does). */
  PyObject *et, *ev, *tb;
  PyErr_Fetch(&et, &ev, &tb);
  macho_close(c);
  PyErr_Restore(et, ev, tb);
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

/* A per-entry TTL in seconds from a Python number: > 0, or +inf for "never".
 * *out = 0 means never (libmacho's convention). */
static int ttl_from(PyObject *o, const char *what, double *out) {
  if (PyBool_Check(o) || !(PyFloat_Check(o) || PyLong_Check(o))) {
    PyErr_Format(PyExc_TypeError, "%s must be a float or int number of seconds, not %.100s", what,
                 Py_TYPE(o)->tp_name);
    return -1;
  }
  double t = PyFloat_AsDouble(o); /* an int past the double range: OverflowError */
  if (t == -1.0 && PyErr_Occurred()) return -1;
  if (isnan(t) || t <= 0) {
    PyErr_Format(PyExc_ValueError,
                 "%s must be a positive number of seconds (float('inf') = never expires), got %R",
                 what, o);
    return -1;
  }
  *out = isinf(t) ? 0.0 : t;
  return 0;
}

/* An exact int in [lo, hi] (bools refused: a bool is not a count). Beyond
 * what the C field holds: OverflowError; inside it but out of range:
 * ValueError. */
static int int_in(PyObject *o, const char *what, long long lo, unsigned long long hi,
                  unsigned long long *out) {
  if (PyBool_Check(o) || !PyLong_Check(o)) {
    PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", what, Py_TYPE(o)->tp_name);
    return -1;
  }
  int overflow = 0;
  long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
  if (v == -1 && !overflow && PyErr_Occurred()) return -1;
  unsigned long long u = 0;
  int too_big = overflow < 0; /* below LLONG_MIN */
  if (overflow > 0) {         /* above LLONG_MAX: maybe still a uint64 */
    u = PyLong_AsUnsignedLongLong(o);
    if (u == (unsigned long long)-1 && PyErr_Occurred()) {
      PyErr_Clear();
      too_big = 1;
    }
    v = 0;
  } else if (overflow == 0 && v >= 0) {
    u = (unsigned long long)v;
  }
  /* lo >= 0 fields are unsigned in C: a negative value does not fit them */
  if (too_big || (overflow == 0 && v < 0 && lo >= 0) || (v >= 0 && u > hi)) {
    PyErr_Format(PyExc_OverflowError, "%s must be in [%lld, %llu], got %R", what, lo, hi, o);
    return -1;
  }
  if (overflow == 0 && v < lo) {
    PyErr_Format(PyExc_ValueError, "%s must be in [%lld, %llu], got %R", what, lo, hi, o);
    return -1;
  }
  *out = u;
  return 0;
}

/* ---- lifetime ------------------------------------------------------------------- */

static int Cache_init(CacheObject *self, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"capacity", "ttl", "shards", "policy", "filter", "fp_rate",
                           "seed", "metrics", "clock", "mrc", "on_remove", "max_bytes", "weigher",
                           "refresh_after", "negative_ttl", "submit", NULL};
  PyObject *capacity_o = NULL, *shards_o = NULL, *seed_o = NULL, *ttl_o = NULL, *fp_o = NULL;
  PyObject *clock = Py_None, *on_remove = Py_None, *weigher = Py_None, *submit = Py_None;
  PyObject *max_bytes_o = NULL;
  const char *policy = "lru", *filter = "none";
  int metrics = 1, mrc = 0;
  double refresh_after = 0, negative_ttl = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOOssOOpOpOOOddO:CacheCore", kwlist, &capacity_o, &ttl_o,
                                   &shards_o, &policy, &filter, &fp_o, &seed_o, &metrics, &clock, &mrc,
                                   &on_remove, &max_bytes_o, &weigher, &refresh_after, &negative_ttl,
                                   &submit))
    return -1;
  if ((on_remove != Py_None && !PyCallable_Check(on_remove)) ||
      (weigher != Py_None && !PyCallable_Check(weigher)) || (submit != Py_None && !PyCallable_Check(submit))) {
    PyErr_SetString(PyExc_TypeError, "on_remove, weigher and submit must be callables or None");
    return -1;
  }
  if (isnan(refresh_after) || refresh_after < 0 || isnan(negative_ttl) || negative_ttl < 0) {
    PyErr_SetString(PyExc_ValueError, "refresh_after and negative_ttl must be >= 0 seconds");
    return -1;
  }
  if (self->cache || self->closed) {
    /* Replacing the cache under a call that is running Python code (an
     * __eq__ of this cache's lookup, in another thread) would free it there. */
    PyErr_SetString(PyExc_RuntimeError, "a Cache cannot be initialised twice");
    return -1;
  }
  macho_config cfg;
  macho_config_init(&cfg);
  unsigned long long capacity = 100, shards = 1, seed = 0, max_bytes = 0;
  if (capacity_o && int_in(capacity_o, "capacity", 1, SIZE_MAX, &capacity) < 0) return -1;
  if (max_bytes_o && max_bytes_o != Py_None && int_in(max_bytes_o, "max_bytes", 0, SIZE_MAX, &max_bytes) < 0)
    return -1;
  if (shards_o && int_in(shards_o, "shards", 1, UINT32_MAX, &shards) < 0) return -1;
  if (seed_o && int_in(seed_o, "seed", 0, UINT64_MAX, &seed) < 0) return -1;
  /* ttl: > 0 seconds; +inf or NaN = never (NaN never compares as expired in
   * the original); <= 0 = expired as soon as added (the original's meaning). */
  double ttl = 600.0;
  if (ttl_o) {
    if (PyBool_Check(ttl_o) || !(PyFloat_Check(ttl_o) || PyLong_Check(ttl_o))) {
      PyErr_Format(PyExc_TypeError, "ttl must be a float, not %.100s", Py_TYPE(ttl_o)->tp_name);
      return -1;
    }
    ttl = PyFloat_AsDouble(ttl_o);
    if (ttl == -1.0 && PyErr_Occurred()) return -1;
  }
  self->instant = !(ttl > 0) && !isnan(ttl);
  cfg.ttl_seconds = (isnan(ttl) || isinf(ttl) || self->instant) ? 0.0 : ttl;
  double fp = 0.5;
  if (fp_o) {
    fp = PyFloat_AsDouble(fp_o);
    if (fp == -1.0 && PyErr_Occurred()) return -1;
  }
  cfg.capacity_entries = (size_t)capacity;
  cfg.shards = (uint32_t)shards;
  if (macho_policy_parse(policy, &cfg.policy) != MACHO_OK || !macho_policy_available(cfg.policy)) {
    PyErr_Format(PyExc_ValueError, "policy '%s' is unknown or not built", policy);
    return -1;
  }
  if (macho_filter_parse(filter, &cfg.filter) != MACHO_OK || !macho_filter_available(cfg.filter)) {
    PyErr_Format(PyExc_ValueError, "filter '%s' is unknown or not built", filter);
    return -1;
  }
  cfg.filter_fp_rate = fp;
  cfg.seed = (uint64_t)seed;
  /* The ops are copied at open: this copy's ctx is the Python object, for
   * the callbacks that need it (listener, weigher, executor). */
  macho_object_ops ops = py_ops;
  ops.ctx = self;
  cfg.object_ops = &ops;
  cfg.metrics = metrics ? 1 : 0;
  cfg.mrc = mrc ? 1 : 0;
  cfg.dump = py_dump;
  cfg.dump_done = py_dump_done;
  cfg.undump = py_undump;
  if (on_remove != Py_None) {
    cfg.on_remove = py_on_remove;
    cfg.on_remove_ctx = self;
  }
  if (max_bytes || weigher != Py_None) cfg.weigh = py_weigh;
  cfg.capacity_bytes = (size_t)max_bytes;
  cfg.refresh_after_seconds = refresh_after;
  cfg.negative_ttl_seconds = negative_ttl;
  if (refresh_after > 0) { /* never the library's own thread: loaders need the GIL */
    cfg.refresh_executor = py_submit;
    cfg.refresh_executor_ctx = self;
  }
  if (cfg.weigh && weigher == Py_None) {
    PyObject *sys = PyImport_ImportModule("sys");
    self->getsizeof = sys ? PyObject_GetAttrString(sys, "getsizeof") : NULL;
    Py_XDECREF(sys);
    if (!self->getsizeof) return -1;
  }
  /* The callables are in place before the cache can call them. */
  if (on_remove != Py_None) self->on_remove = Py_NewRef(on_remove);
  if (weigher != Py_None) self->weigher = Py_NewRef(weigher);
  if (submit != Py_None) self->submit = Py_NewRef(submit);
  self->has_weigher = cfg.weigh != NULL;
  if (clock != Py_None) {
    if (!PyCallable_Check(clock)) {
      PyErr_Format(PyExc_TypeError, "clock must be a callable returning seconds, not %.100s",
                   Py_TYPE(clock)->tp_name);
      return -1;
    }
    Py_INCREF(clock);
    self->clock = clock;
    if (read_user_clock(self) < 0) {
      Py_CLEAR(self->clock);
      return -1;
    }
    cfg.clock = user_clock;
    cfg.clock_ctx = self;
  }
  const char *why = NULL;
  if (macho_config_check(&cfg, &why) != MACHO_OK) {
    Py_CLEAR(self->clock);
    PyErr_Format(PyExc_ValueError, "invalid cache configuration: %s", why ? why : "?");
    return -1;
  }
  macho_cache *c = NULL;
  int rc = macho_open(&cfg, &c);
  if (rc != MACHO_OK) {
    Py_CLEAR(self->clock);
    raise_status(rc);
    return -1;
  }
  self->cache = c;
  return 0;
}

/* Background reloads not run yet are dropped: macho_close waits for every
 * job to come back, and they could only come back through a thread that
 * needs the GIL this thread holds. */
static void cancel_pending(CacheObject *self) {
  PyObject *p = self->pending;
  self->pending = NULL;
  if (!p) return;
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE(p); i++) {
    PyObject *cap = PyList_GET_ITEM(p, i);
    macho_refresh *j = PyCapsule_GetPointer(cap, "macho.refresh");
    if (j && j != (void *)1 && PyCapsule_SetPointer(cap, (void *)1) == 0) macho_refresh_cancel(j);
  }
  PyErr_Clear();
  Py_DECREF(p);
}

static PyObject *Cache_close(CacheObject *self, PyObject *unused) {
  (void)unused;
  macho_dashboard *d = self->dash;
  self->dash = NULL;
  dash_stop(d); /* it reads the cache from its own thread */
  if (!self->cache) Py_RETURN_NONE;
  cancel_pending(self);
  self->closed = 1;
  self->closing = self->cache;
  self->cache = NULL; /* new calls raise CacheClosedError from here on */
  if (self->active == 0) finish_close(self);
  /* else the last running call closes it (leave) */
  Py_RETURN_NONE;
}

static int Cache_traverse(CacheObject *self, visitproc visit, void *arg) {
  Py_VISIT(self->clock);
  Py_VISIT(self->on_remove);
  Py_VISIT(self->weigher);
  Py_VISIT(self->submit);
  return 0;
}

static int Cache_gc_clear(CacheObject *self) {
  Py_CLEAR(self->clock); /* the library's clock then stays at the last reading */
  Py_CLEAR(self->on_remove); /* no more reports: the cache is unreachable anyway */
  Py_CLEAR(self->submit);
  Py_CLEAR(self->weigher);
  return 0;
}

static void Cache_dealloc(CacheObject *self) {
  PyObject_GC_UnTrack(self);
  if (self->weakreflist) PyObject_ClearWeakRefs((PyObject *)self);
  dash_stop(self->dash);
  self->dash = NULL;
  macho_cache *c = self->cache ? self->cache : self->closing;
  self->cache = self->closing = NULL;
  if (c) cancel_pending(self);
  Py_CLEAR(self->pending);
  macho_close(c); /* releases every key and value (the listener sees them go) */
  Py_CLEAR(self->clock);
  Py_CLEAR(self->on_remove);
  Py_CLEAR(self->weigher);
  Py_CLEAR(self->getsizeof);
  Py_CLEAR(self->submit);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

/* ---- operations ------------------------------------------------------------------ */

static inline PyObject *do_get(CacheObject *self, PyObject *key, PyObject *dflt) {
  macho_cache *c = enter(self);
  if (unlikely(!c)) return NULL;
  void *v = NULL;
  int rc = macho_obj_get(c, key, &v);
  leave(self);
  if (likely(rc == MACHO_OK)) return (PyObject *)v; /* a new reference, retained by the cache */
  if (rc == MACHO_ENOTFOUND) {
    if (dflt) {
      Py_INCREF(dflt);
      return dflt;
    }
    key_error(key);
    return NULL;
  }
  return raise_status(rc);
}

/* Insert or replace with the cache's TTL (or ttl_s >= 0 seconds when has_ttl). */
static inline int do_put(CacheObject *self, PyObject *key, PyObject *value, int has_ttl, double ttl_s) {
  macho_cache *c = enter(self);
  if (unlikely(!c)) return -1;
  int rc = has_ttl ? macho_obj_put_ttl(c, key, value, ttl_s) : macho_obj_put(c, key, value);
  /* ttl <= 0 in the constructor: the entry expires as soon as it is added,
   * after its add made room for it as in the original (evictions included). */
  if (rc == MACHO_OK && !has_ttl && unlikely(self->instant)) rc = macho_obj_delete(c, key);
  leave(self);
  if (likely(rc == MACHO_OK)) return 0;
  raise_status(rc);
  return -1;
}

static const char *const get_names[] = {"key", "default"};

static PyObject *Cache_get(CacheObject *self, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames) {
  PyObject *a[2];
  if (likely(kwnames == NULL && (nargs == 1 || nargs == 2))) {
    a[0] = args[0];
    a[1] = nargs == 2 ? args[1] : Py_None;
  } else {
    if (parse_fast("get", args, nargs, kwnames, get_names, NULL, 1, 2, a) < 0) return NULL;
    if (!a[1]) a[1] = Py_None;
  }
  return do_get(self, a[0], a[1]);
}

static const char *const add_names[] = {"key", "value", "ttl"};
/* The original macho named add's second parameter `entry`. */
static const char *const add_aliases[] = {NULL, "entry", NULL};

static PyObject *Cache_add(CacheObject *self, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames) {
  PyObject *a[3];
  if (likely(kwnames == NULL && nargs == 2)) {
    a[0] = args[0];
    a[1] = args[1];
    a[2] = NULL;
  } else if (parse_fast("add", args, nargs, kwnames, add_names, add_aliases, 2, 3, a) < 0) {
    return NULL;
  }
  double ttl = 0;
  int has_ttl = a[2] && a[2] != Py_None;
  if (has_ttl && ttl_from(a[2], "ttl", &ttl) < 0) return NULL;
  if (do_put(self, a[0], a[1], has_ttl, ttl) < 0) return NULL;
  Py_RETURN_NONE;
}

static PyObject *Cache_subscript(CacheObject *self, PyObject *key) { return do_get(self, key, NULL); }

static int Cache_ass_subscript(CacheObject *self, PyObject *key, PyObject *value) {
  if (likely(value != NULL)) return do_put(self, key, value, 0, 0);
  macho_cache *c = enter(self);
  if (!c) return -1;
  int rc = macho_obj_delete(c, key);
  leave(self);
  if (rc == MACHO_OK) return 0;
  if (rc == MACHO_ENOTFOUND) key_error(key);
  else raise_status(rc);
  return -1;
}

static PyObject *Cache_delete(CacheObject *self, PyObject *key) {
  macho_cache *c = enter(self);
  if (!c) return NULL;
  int rc = macho_obj_delete(c, key);
  leave(self);
  if (rc == MACHO_OK) Py_RETURN_TRUE;
  if (rc == MACHO_ENOTFOUND) Py_RETURN_FALSE;
  return raise_status(rc);
}

static int Cache_contains(CacheObject *self, PyObject *key) {
  macho_cache *c = enter(self);
  if (!c) return -1;
  int rc = macho_obj_contains(c, key);
  leave(self);
  if (rc == MACHO_OK) return 1;
  if (rc == MACHO_ENOTFOUND) return 0;
  raise_status(rc);
  return -1;
}

static Py_ssize_t Cache_len(CacheObject *self) {
  macho_cache *c = self->cache; /* no clock read: a length needs no time */
  if (!c) return enter_slow(self) ? 0 : -1;
  return (Py_ssize_t)macho_len(c);
}

static PyObject *Cache_clear(CacheObject *self, PyObject *unused) {
  (void)unused;
  macho_cache *c = enter(self);
  if (!c) return NULL;
  int rc = macho_clear(c);
  leave(self);
  if (rc != MACHO_OK) return raise_status(rc);
  Py_RETURN_NONE;
}

static PyObject *Cache_expire(CacheObject *self, PyObject *unused) {
  (void)unused;
  macho_cache *c = enter(self);
  if (!c) return NULL;
  size_t n = 0;
  int rc = macho_expire(c, &n);
  leave(self);
  if (rc != MACHO_OK) return raise_status(rc);
  return PyLong_FromSize_t(n);
}

/* What _snapshot() collects from macho_foreach_entry. */
typedef struct snap_ctx {
  PyObject *list;
  int what; /* 0 keys, 1 (key, value), 2 (key, value, ttl_remaining) */
  Py_ssize_t limit; /* stop after this many (0 = all) */
} snap_ctx;

static int collect_entry(void *ctx, const macho_entry_view *e) {
  snap_ctx *s = ctx;
  PyObject *k = (PyObject *)e->key, *v = e->value ? (PyObject *)e->value : Py_None, *item;
  if (s->what == 0) {
    Py_INCREF(k);
    item = k;
  } else if (s->what == 1) {
    item = PyTuple_Pack(2, k, v);
  } else {
    item = Py_BuildValue("(OOd)", k, v, e->ttl_remaining);
  }
  if (!item) return -1;
  int rc = PyList_Append(s->list, item);
  Py_DECREF(item);
  if (rc < 0) return -1;
  return s->limit && PyList_GET_SIZE(s->list) >= s->limit ? 1 : 0;
}

static PyObject *snapshot(CacheObject *self, int what, Py_ssize_t limit) {
  PyObject *list = PyList_New(0);
  if (!list) return NULL;
  macho_cache *c = enter(self);
  if (!c) {
    Py_DECREF(list);
    return NULL;
  }
  snap_ctx s = {list, what, limit};
  int rc = macho_foreach_entry(c, collect_entry, &s);
  leave(self);
  if (rc < 0) { /* -1 from collect_entry (exception set) or a library status */
    Py_DECREF(list);
    return raise_status(rc);
  }
  return list;
}

static PyObject *Cache_iter(CacheObject *self) {
  PyObject *keys = snapshot(self, 0, 0);
  if (!keys) return NULL;
  PyObject *it = PyObject_GetIter(keys);
  Py_DECREF(keys);
  return it;
}

static PyObject *Cache_snapshot(CacheObject *self, PyObject *const *args, Py_ssize_t nargs) {
  long what = 0;
  Py_ssize_t limit = 0;
  if (nargs < 1 || nargs > 2) {
    PyErr_SetString(PyExc_TypeError, "_snapshot(what, limit=0)");
    return NULL;
  }
  what = PyLong_AsLong(args[0]);
  if (what == -1 && PyErr_Occurred()) return NULL;
  if (nargs == 2) {
    limit = PyLong_AsSsize_t(args[1]);
    if (limit == -1 && PyErr_Occurred()) return NULL;
  }
  if (what < 0 || what > 2 || limit < 0) {
    PyErr_SetString(PyExc_ValueError, "_snapshot(what in 0..2, limit >= 0)");
    return NULL;
  }
  return snapshot(self, (int)what, limit);
}

/* ---- features (issue 12) --------------------------------------------------------------- */

/* The loader: fn(key) -> value; raising KeyError means "no such key". */
static int py_load(void *ctx, const void *key, size_t klen, macho_loaded *out) {
  (void)klen;
  PyObject *v = PyObject_CallFunctionObjArgs((PyObject *)ctx, (PyObject *)key, NULL);
  if (v) {
    int rc = macho_loaded_set_obj(out, v);
    Py_DECREF(v);
    return rc;
  }
  if (PyErr_ExceptionMatches(PyExc_KeyError)) {
    PyErr_Clear();
    return MACHO_ENOTFOUND;
  }
  /* The exception itself goes to every caller waiting for this load. */
  PyObject *et, *ev, *tb;
  PyErr_Fetch(&et, &ev, &tb);
  PyErr_NormalizeException(&et, &ev, &tb);
  if (ev && tb) PyException_SetTraceback(ev, tb);
  if (ev && macho_loaded_set_obj(out, ev) != MACHO_OK) PyErr_Clear(); /* cannot fail in object mode */
  Py_XDECREF(et);
  Py_XDECREF(ev);
  Py_XDECREF(tb);
  return MACHO_ECALLBACK;
}
static void py_load_retain(void *ctx) { Py_INCREF((PyObject *)ctx); }
static void py_load_release(void *ctx) { Py_DECREF((PyObject *)ctx); }
/* Another thread loads this key: give the GIL up while waiting for it. */
static void *py_wait_begin(void *ctx) {
  (void)ctx;
  return PyEval_SaveThread();
}
static void py_wait_end(void *ctx, void *token) {
  (void)ctx;
  PyEval_RestoreThread((PyThreadState *)token);
}

static PyObject *raise_load(int rc, PyObject *key, PyObject *err) {
  if (rc == MACHO_ECALLBACK && err && PyExceptionInstance_Check(err)) {
    PyErr_SetObject((PyObject *)Py_TYPE(err), err);
    Py_DECREF(err);
    return NULL;
  }
  Py_XDECREF(err);
  if (rc == MACHO_ENOTFOUND) {
    key_error(key);
    return NULL;
  }
  if (rc == MACHO_EDEADLK) {
    PyErr_SetString(PyExc_RuntimeError, "macho: get_or_load: the loader asked for the key it is loading "
                                        "(directly or through loaders waiting on each other)");
    return NULL;
  }
  if (rc == MACHO_ECALLBACK && !PyErr_Occurred()) {
    PyErr_SetString(PyExc_RuntimeError, "macho: get_or_load: the loader failed");
    return NULL;
  }
  return raise_status(rc);
}

static PyObject *Cache_get_or_load(CacheObject *self, PyObject *const *args, Py_ssize_t nargs) {
  if (nargs != 2) {
    PyErr_SetString(PyExc_TypeError, "get_or_load() takes exactly 2 arguments (key, fn)");
    return NULL;
  }
  if (!PyCallable_Check(args[1])) {
    PyErr_Format(PyExc_TypeError, "get_or_load(): fn must be callable, not %.100s", Py_TYPE(args[1])->tp_name);
    return NULL;
  }
  macho_cache *c = enter(self);
  if (!c) return NULL;
  macho_loader ld = {py_load, args[1], py_load_retain, py_load_release, py_wait_begin, py_wait_end};
  void *v = NULL;
  int rc = macho_obj_get_or_load(c, args[0], &ld, &v);
  leave(self);
  if (rc == MACHO_OK) return v ? (PyObject *)v : Py_NewRef(Py_None);
  return raise_load(rc, args[0], (PyObject *)v);
}

static PyObject *Cache_refresh_run(CacheObject *self, PyObject *cap) {
  macho_refresh *j = PyCapsule_GetPointer(cap, "macho.refresh");
  if (!j) return NULL;
  if (j == (void *)1) {
    PyErr_SetString(PyExc_RuntimeError, "this reload has run already");
    return NULL;
  }
  if (PyCapsule_SetPointer(cap, (void *)1) < 0) return NULL; /* run once: the capsule forgets it */
  if (self->pending) {
    Py_ssize_t i = PySequence_Index(self->pending, cap);
    if (i >= 0) PySequence_DelItem(self->pending, i);
    else PyErr_Clear();
  }
  /* The job keeps the library's cache open (close waits for it): no enter(). */
  self->active++;
  macho_refresh_run(j);
  leave(self);
  if (PyErr_Occurred()) PyErr_WriteUnraisable(cap);
  Py_RETURN_NONE;
}

static PyObject *Cache_peek(CacheObject *self, PyObject *const *args, Py_ssize_t nargs) {
  if (nargs < 1 || nargs > 2) {
    PyErr_SetString(PyExc_TypeError, "peek() takes a key and an optional default");
    return NULL;
  }
  macho_cache *c = enter(self);
  if (!c) return NULL;
  void *v = NULL;
  int rc = macho_obj_peek(c, args[0], &v);
  leave(self);
  if (rc == MACHO_OK) return v ? (PyObject *)v : Py_NewRef(Py_None);
  if (rc == MACHO_ENOTFOUND) return Py_NewRef(nargs == 2 ? args[1] : Py_None);
  return raise_status(rc);
}

static PyObject *Cache_ttl_get(CacheObject *self, PyObject *key) {
  macho_cache *c = enter(self);
  if (!c) return NULL;
  double left;
  int rc = macho_obj_ttl_get(c, key, &left);
  leave(self);
  if (rc == MACHO_OK) return PyFloat_FromDouble(left);
  if (rc == MACHO_ENOTFOUND) {
    key_error(key);
    return NULL;
  }
  return raise_status(rc);
}

static PyObject *Cache_ttl_set(CacheObject *self, PyObject *const *args, Py_ssize_t nargs) {
  if (nargs != 2) {
    PyErr_SetString(PyExc_TypeError, "ttl_set() takes exactly 2 arguments (key, seconds)");
    return NULL;
  }
  double ttl;
  if (ttl_from(args[1], "seconds", &ttl) < 0) return NULL;
  macho_cache *c = enter(self);
  if (!c) return NULL;
  int rc = macho_obj_ttl_set(c, args[0], isinf(ttl) ? 0.0 : ttl);
  leave(self);
  if (rc == MACHO_OK) Py_RETURN_NONE;
  if (rc == MACHO_ENOTFOUND) {
    key_error(args[0]);
    return NULL;
  }
  return raise_status(rc);
}

static PyObject *Cache_resize(CacheObject *self, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"capacity", "max_bytes", NULL};
  PyObject *cap = Py_None, *bytes = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO:_resize", kwlist, &cap, &bytes)) return NULL;
  unsigned long long cv = MACHO_RESIZE_KEEP, bv = MACHO_RESIZE_KEEP;
  if (cap != Py_None && int_in(cap, "max_cache_size", 1, SIZE_MAX - 1, &cv) < 0) return NULL;
  if (bytes != Py_None && int_in(bytes, "max_bytes", 0, SIZE_MAX - 1, &bv) < 0) return NULL;
  if (bytes != Py_None && bv && !self->has_weigher) {
    PyErr_SetString(PyExc_ValueError, "this cache has no weigher: open it with max_bytes= or weigher= "
                                      "to give it a byte budget later");
    return NULL;
  }
  macho_cache *c = enter(self);
  if (!c) return NULL;
  int rc = macho_resize(c, (size_t)cv, (size_t)bv);
  leave(self);
  if (rc == MACHO_EINVAL) {
    PyErr_SetString(PyExc_ValueError, "macho: resize: max_cache_size and a max_bytes other than 0 must be "
                                      "at least shard_count");
    return NULL;
  }
  if (rc != MACHO_OK) return raise_status(rc);
  Py_RETURN_NONE;
}

static PyObject *raise_file(int rc, PyObject *path) {
  if (PyErr_Occurred()) return NULL; /* pickle's own exception (ECALLBACK) */
  switch (rc) {
  case MACHO_EFORMAT:
  case MACHO_ETRUNCATED:
  case MACHO_ECORRUPT:
  case MACHO_EVERSION:
  case MACHO_EMODE:
    PyErr_Format(PyExc_ValueError, "macho: %R: %s", path, macho_strerror(rc));
    return NULL;
  case MACHO_EIO:
    return PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
  default:
    return raise_status(rc);
  }
}

static PyObject *save_or_load(CacheObject *self, PyObject *arg, int save) {
  PyObject *path = NULL;
  if (!PyUnicode_FSConverter(arg, &path)) return NULL;
  macho_cache *c = enter(self);
  if (!c) {
    Py_DECREF(path);
    return NULL;
  }
  errno = 0;
  int rc = save ? macho_save(c, PyBytes_AS_STRING(path)) : macho_load(c, PyBytes_AS_STRING(path));
  leave(self);
  Py_DECREF(path);
  if (rc == MACHO_OK) Py_RETURN_NONE;
  return raise_file(rc, arg);
}
static PyObject *Cache_save(CacheObject *self, PyObject *arg) { return save_or_load(self, arg, 1); }
static PyObject *Cache_load(CacheObject *self, PyObject *arg) { return save_or_load(self, arg, 0); }

static int collect_pair(void *ctx, const macho_entry_view *e) {
  PyObject *t = PyTuple_Pack(2, (PyObject *)e->key, e->value ? (PyObject *)e->value : Py_None);
  if (!t) return 1;
  int r = PyList_Append((PyObject *)ctx, t);
  Py_DECREF(t);
  return r < 0 ? 1 : 0;
}

static PyObject *ends(CacheObject *self, PyObject *arg, int hottest) {
  unsigned long long n;
  if (int_in(arg, "n", 0, SIZE_MAX, &n) < 0) return NULL;
  PyObject *list = PyList_New(0);
  if (!list) return NULL;
  macho_cache *c = enter(self);
  if (!c) {
    Py_DECREF(list);
    return NULL;
  }
  int rc = hottest ? macho_hottest(c, (size_t)n, collect_pair, list) : macho_coldest(c, (size_t)n, collect_pair, list);
  leave(self);
  if (rc == MACHO_OK) return list;
  Py_DECREF(list);
  if (rc == 1) return NULL; /* an exception of collect_pair */
  if (rc == MACHO_ENOTSUP) {
    PyErr_SetString(PyExc_NotImplementedError, "this strategy keeps no order (random)");
    return NULL;
  }
  return raise_status(rc);
}
static PyObject *Cache_hottest(CacheObject *self, PyObject *arg) { return ends(self, arg, 1); }
static PyObject *Cache_coldest(CacheObject *self, PyObject *arg) { return ends(self, arg, 0); }

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
static int shard_arg(macho_cache *c, PyObject *const *args, Py_ssize_t nargs, const char *fname,
                     long *out) {
  long shard = -1;
  if (nargs > 1) {
    PyErr_Format(PyExc_TypeError, "%s() takes at most one argument (a shard index)", fname);
    return -1;
  }
  if (nargs == 1) {
    if (PyBool_Check(args[0]) || !PyLong_Check(args[0])) {
      PyErr_Format(PyExc_TypeError, "a shard index must be an int, not %.100s",
                   Py_TYPE(args[0])->tp_name);
      return -1;
    }
    int overflow = 0;
    shard = PyLong_AsLongAndOverflow(args[0], &overflow);
    if (shard == -1 && PyErr_Occurred()) return -1;
    if (overflow) shard = -2;
  }
  if (shard < -1 || shard >= (long)macho_shard_count(c)) {
    PyErr_Format(PyExc_IndexError, "shard %R out of range (the cache has %u)",
                 nargs ? args[0] : Py_None, macho_shard_count(c));
    return -1;
  }
  *out = shard;
  return 0;
}

static PyObject *Cache_counters(CacheObject *self, PyObject *const *args, Py_ssize_t nargs) {
  long shard;
  macho_cache *c = enter(self);
  if (!c) return NULL;
  macho_counters k;
  int rc = shard_arg(c, args, nargs, "_counters", &shard);
  if (rc == 0) rc = macho_counters_get(c, (int)shard, &k);
  leave(self);
  if (rc < 0 && PyErr_Occurred()) return NULL;
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
  macho_cache *c = enter(self);
  if (!c) return NULL;
  macho_stats *st = NULL;
  int rc = shard_arg(c, args, nargs, "_stats", &shard);
  if (rc == 0) rc = macho_stats_get(c, (int)shard, &st);
  leave(self);
  if (rc < 0 && PyErr_Occurred()) return NULL;
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

/* The live miss-ratio curve: {multiple: miss ratio (None before a sampled get)}
 * and the sample's figures, from macho_mrc_get. */
static PyObject *Cache_mrc(CacheObject *self, PyObject *unused) {
  (void)unused;
  macho_cache *c = enter(self);
  if (!c) return NULL;
  macho_mrc m;
  int rc = macho_mrc_get(c, -1, &m);
  leave(self);
  if (rc == MACHO_ENOTSUP) {
    PyErr_SetString(PyExc_RuntimeError, "the miss-ratio curve is off: create the Cache with mrc=True");
    return NULL;
  }
  if (rc != MACHO_OK) return raise_status(rc);
  PyObject *curve = PyDict_New();
  if (!curve) return NULL;
  for (int i = 0; i < MACHO_MRC_POINTS; i++) {
    PyObject *k = PyFloat_FromDouble(m.multiple[i]);
    PyObject *v = isnan(m.miss_ratio[i]) ? Py_NewRef(Py_None) : PyFloat_FromDouble(m.miss_ratio[i]);
    if (!k || !v || PyDict_SetItem(curve, k, v) < 0) {
      Py_XDECREF(k);
      Py_XDECREF(v);
      Py_DECREF(curve);
      return NULL;
    }
    Py_DECREF(k);
    Py_DECREF(v);
  }
  return Py_BuildValue("{s:N,s:K,s:K,s:d,s:K}", "miss_ratio", curve, "gets", (unsigned long long)m.gets,
                       "sampled_gets", (unsigned long long)m.sampled_gets, "sample_rate", m.sample_rate,
                       "memory_bytes", (unsigned long long)m.memory_bytes);
}

static PyObject *Cache_policy_current(CacheObject *self, PyObject *unused) {
  (void)unused;
  macho_cache *c = enter(self);
  if (!c) return NULL;
  macho_policy p;
  uint64_t changes;
  int rc = macho_policy_current(c, -1, &p, &changes);
  leave(self);
  if (rc != MACHO_OK) return raise_status(rc);
  return Py_BuildValue("(sK)", macho_policy_name(p), (unsigned long long)changes);
}

static PyObject *Cache_stats_reset(CacheObject *self, PyObject *unused) {
  (void)unused;
  macho_cache *c = enter(self);
  if (!c) return NULL;
  int rc = macho_stats_reset(c);
  leave(self);
  if (rc != MACHO_OK) return raise_status(rc);
  Py_RETURN_NONE;
}

static PyObject *Cache_shard_count(CacheObject *self, void *closure) {
  (void)closure;
  macho_cache *c = enter(self);
  if (!c) return NULL;
  uint32_t n = macho_shard_count(c);
  leave(self);
  return PyLong_FromUnsignedLong(n);
}

static PyObject *Cache_closed(CacheObject *self, void *closure) {
  (void)closure;
  return PyBool_FromLong(self->closed);
}

/* ---- dashboard --------------------------------------------------------------------- */

static PyObject *Cache_dashboard_start(CacheObject *self, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"listen", "token", NULL};
  const char *listen = NULL, *token = NULL;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "|zz:_dashboard_start", kwlist, &listen, &token))
    return NULL;
  macho_cache *c = enter(self);
  if (!c) return NULL;
  leave(self); /* no Python code runs below: the cache cannot close meanwhile */
#ifdef MACHO_PY_HAVE_DASHBOARD
  if (!self->dash) {
    macho_dashboard_options opts;
    macho_dashboard_options_init(&opts);
    if (listen) opts.listen = listen;
    if (token) opts.token = token;
    macho_dashboard *d = NULL;
    int rc = macho_dashboard_start(c, &opts, &d);
    if (rc != MACHO_OK) {
      const char *where = listen ? listen : "127.0.0.1:0";
      if (rc == MACHO_EINVAL) {
        PyErr_Format(PyExc_ValueError, "cannot start the dashboard on %s: %s", where,
                     macho_strerror(rc));
        return NULL;
      }
      if (rc == PYMACHO_EADDRINUSE || rc == MACHO_EIO || rc == MACHO_EBUSY) {
        /* OSError(errno, message): errno.EADDRINUSE for an occupied port. */
        PyObject *msg = PyUnicode_FromFormat("cannot start the dashboard on %s: %s", where,
                                             macho_strerror(rc));
        if (!msg) return NULL;
        PyObject *e = Py_BuildValue("(iN)", rc == PYMACHO_EADDRINUSE ? EADDRINUSE : EIO, msg);
        if (e) {
          PyErr_SetObject(PyExc_OSError, e);
          Py_DECREF(e);
        }
        return NULL;
      }
      return raise_status(rc);
    }
    self->dash = d;
  }
  return PyUnicode_FromString(macho_dashboard_url(self->dash));
#else
  (void)listen;
  (void)token;
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

static PyObject *Cache_dashboard_running(CacheObject *self, void *closure) {
  (void)closure;
  return PyBool_FromLong(self->dash != NULL);
}

/* ---- type ---------------------------------------------------------------------------- */

static PyMethodDef Cache_methods[] = {
    {"get", (PyCFunction)(void (*)(void))Cache_get, METH_FASTCALL | METH_KEYWORDS,
     "get($self, key, default=None)\n--\n\nThe value stored under key, or default when absent or "
     "expired. Counts a request and a hit or a miss."},
    {"add", (PyCFunction)(void (*)(void))Cache_add, METH_FASTCALL | METH_KEYWORDS,
     "add($self, key, value, ttl=None)\n--\n\nInsert or replace key -> value; evicts by the strategy "
     "when full. ttl (seconds, > 0, inf = never) overrides the cache's ttl for this entry."},
    {"delete", (PyCFunction)Cache_delete, METH_O,
     "delete($self, key)\n--\n\nRemove key; True when it was present, False otherwise."},
    {"_clear", (PyCFunction)Cache_clear, METH_NOARGS, "Drop every entry (metrics kept)."},
    {"expire", (PyCFunction)Cache_expire, METH_NOARGS,
     "expire($self)\n--\n\nReclaim every expired entry now; returns how many."},
    {"close", (PyCFunction)Cache_close, METH_NOARGS,
     "close($self)\n--\n\nStop the dashboard, drop every entry and free the cache; any later call "
     "raises CacheClosedError. Idempotent."},
    {"get_or_load", (PyCFunction)(void (*)(void))Cache_get_or_load, METH_FASTCALL,
     "get_or_load($self, key, fn, /)\n--\n\nThe value of key; on a miss fn(key) is called, once per key "
     "however many threads miss it together (the others wait for its result), and what it returns "
     "is cached. fn raising KeyError means absent (KeyError is raised, and remembered negative_ttl "
     "seconds); any other exception reaches every waiting caller and nothing is cached. With "
     "refresh_after, a hit on an older entry returns it and reloads it once in the background."},
    {"peek", (PyCFunction)(void (*)(void))Cache_peek, METH_FASTCALL,
     "peek($self, key, default=None, /)\n--\n\nThe value of key without counting a request or "
     "touching the strategy's order."},
    {"ttl_get", (PyCFunction)Cache_ttl_get, METH_O,
     "ttl_get($self, key, /)\n--\n\nSeconds until key expires (inf = never); KeyError when absent."},
    {"ttl_set", (PyCFunction)(void (*)(void))Cache_ttl_set, METH_FASTCALL,
     "ttl_set($self, key, seconds, /)\n--\n\nA new TTL for key counted from now (inf = never); "
     "KeyError when absent."},
    {"_resize", (PyCFunction)(void (*)(void))Cache_resize, METH_VARARGS | METH_KEYWORDS,
     "_resize(capacity=None, max_bytes=None): see Cache.resize."},
    {"save", (PyCFunction)Cache_save, METH_O,
     "save($self, path, /)\n--\n\nWrite every entry (pickled), its remaining TTL and the strategy's "
     "order to path, atomically (a temporary file, fsync, rename, fsync of the directory)."},
    {"load", (PyCFunction)Cache_load, METH_O,
     "load($self, path, /)\n--\n\nPut the entries of a snapshot from save() into this cache, coldest "
     "first. ValueError for a truncated, corrupt, foreign or newer file and OSError when it "
     "cannot be read, with the cache unchanged."},
    {"hottest", (PyCFunction)Cache_hottest, METH_O,
     "hottest($self, n, /)\n--\n\nThe n (key, value) pairs the strategy would evict last, last first."},
    {"coldest", (PyCFunction)Cache_coldest, METH_O,
     "coldest($self, n, /)\n--\n\nThe n (key, value) pairs the strategy would evict first, first first."},
    {"_refresh_run", (PyCFunction)Cache_refresh_run, METH_O, "Run a background reload (macho's thread)."},
    {"_snapshot", (PyCFunction)(void (*)(void))Cache_snapshot, METH_FASTCALL,
     "_snapshot(what, limit=0): live keys (0), (key, value) pairs (1) or (key, value, "
     "ttl_remaining) triples (2), a peek that counts nothing."},
    {"_counters", (PyCFunction)(void (*)(void))Cache_counters, METH_FASTCALL,
     "_counters(shard=-1): libmacho's counters for one shard or (-1) the whole cache."},
    {"_stats", (PyCFunction)(void (*)(void))Cache_stats, METH_FASTCALL,
     "_stats(shard=-1): latency and lifespan distributions (seconds) from macho_stats_get."},
    {"_stats_reset", (PyCFunction)Cache_stats_reset, METH_NOARGS,
     "Zero the counters and distributions (macho_stats_reset)."},
    {"_mrc", (PyCFunction)Cache_mrc, METH_NOARGS, "_mrc(): the live miss-ratio curve (macho_mrc_get)."},
    {"_policy_current", (PyCFunction)Cache_policy_current, METH_NOARGS,
     "_policy_current() -> (policy, changes) (macho_policy_current)."},
    {"_dashboard_start", (PyCFunction)(void (*)(void))Cache_dashboard_start,
     METH_VARARGS | METH_KEYWORDS, "_dashboard_start(listen=None, token=None) -> url"},
    {"_dashboard_stop", (PyCFunction)Cache_dashboard_stop, METH_NOARGS, "Stop the dashboard."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Cache_getset[] = {
    {"_shards", (getter)Cache_shard_count, NULL, "number of shards", NULL},
    {"closed", (getter)Cache_closed, NULL, "True once close() was called.", NULL},
    {"_dashboard_running", (getter)Cache_dashboard_running, NULL, "a dashboard is serving", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PySequenceMethods Cache_as_sequence = {
    .sq_contains = (objobjproc)Cache_contains,
};

static PyMappingMethods Cache_as_mapping = {
    .mp_length = (lenfunc)Cache_len,
    .mp_subscript = (binaryfunc)Cache_subscript,
    .mp_ass_subscript = (objobjargproc)Cache_ass_subscript,
};

static PyTypeObject CacheType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "macho._macho.CacheCore",
    .tp_doc = "CacheCore(capacity=100, ttl=600.0, shards=1, policy='lru', filter='none', "
              "fp_rate=0.5, seed=0, metrics=True, clock=None)\n--\n\n"
              "libmacho in object mode. Use macho.Cache, which validates arguments the way "
              "the original macho did and adds the mapping methods and metrics properties.",
    .tp_basicsize = sizeof(CacheObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Cache_init,
    .tp_dealloc = (destructor)Cache_dealloc,
    .tp_traverse = (traverseproc)Cache_traverse,
    .tp_clear = (inquiry)Cache_gc_clear,
    .tp_iter = (getiterfunc)Cache_iter,
    .tp_methods = Cache_methods,
    .tp_getset = Cache_getset,
    .tp_as_sequence = &Cache_as_sequence,
    .tp_as_mapping = &Cache_as_mapping,
    .tp_weaklistoffset = offsetof(CacheObject, weakreflist),
};

/* ---- Memo: the hit path of a memoised function ------------------------------------------ */

/*
 * Memo(func, cache, miss, typed=False, namespace=None) is callable: it builds
 * the key of its arguments as functools.lru_cache does (the argument itself
 * for one int or str; else the argument tuple, plus a marker and the keyword
 * items, plus the argument types when typed), prefixed by `namespace` when
 * several functions share a cache, looks it up, and on a hit counts it and
 * returns the value. On a miss it returns miss(key, args, kwargs), the Python
 * single-flight path (macho._Memoized._miss). It binds as a method does.
 */
typedef struct {
  PyObject_HEAD
  PyObject *func, *cache, *miss, *namespace;
  int typed;
  unsigned long long hits;
  PyObject *dict; /* __dict__: functools.update_wrapper sets __name__, __wrapped__ ... */
  PyObject *weakreflist;
} MemoObject;

static PyObject *kwd_mark; /* separates positional from keyword arguments in a key */

static PyObject *memo_key(MemoObject *m, PyObject *args, PyObject *kwargs) {
  Py_ssize_t na = PyTuple_GET_SIZE(args), nk = kwargs ? PyDict_GET_SIZE(kwargs) : 0;
  PyObject *key;
  if (nk == 0 && !m->typed && na == 1 &&
      (PyUnicode_CheckExact(PyTuple_GET_ITEM(args, 0)) ||
       PyLong_CheckExact(PyTuple_GET_ITEM(args, 0)))) {
    key = PyTuple_GET_ITEM(args, 0);
    Py_INCREF(key);
  } else if (nk == 0 && !m->typed) {
    key = args;
    Py_INCREF(key);
  } else {
    Py_ssize_t n = na + (nk ? 1 + 2 * nk : 0) + (m->typed ? na + nk : 0), i = 0;
    key = PyTuple_New(n);
    if (!key) return NULL;
    for (Py_ssize_t j = 0; j < na; j++) {
      PyObject *a = PyTuple_GET_ITEM(args, j);
      Py_INCREF(a);
      PyTuple_SET_ITEM(key, i++, a);
    }
    if (nk) {
      Py_INCREF(kwd_mark);
      PyTuple_SET_ITEM(key, i++, kwd_mark);
      Py_ssize_t pos = 0;
      PyObject *k, *v;
      while (PyDict_Next(kwargs, &pos, &k, &v)) {
        Py_INCREF(k);
        PyTuple_SET_ITEM(key, i++, k);
        Py_INCREF(v);
        PyTuple_SET_ITEM(key, i++, v);
      }
    }
    if (m->typed) {
      for (Py_ssize_t j = 0; j < na; j++) {
        PyObject *t = (PyObject *)Py_TYPE(PyTuple_GET_ITEM(args, j));
        Py_INCREF(t);
        PyTuple_SET_ITEM(key, i++, t);
      }
      Py_ssize_t pos = 0;
      PyObject *k, *v;
      while (nk && PyDict_Next(kwargs, &pos, &k, &v)) {
        PyObject *t = (PyObject *)Py_TYPE(v);
        Py_INCREF(t);
        PyTuple_SET_ITEM(key, i++, t);
      }
    }
  }
  if (m->namespace != Py_None) {
    PyObject *k2 = PyTuple_Pack(2, m->namespace, key);
    Py_DECREF(key);
    key = k2;
  }
  return key;
}

static PyObject *Memo_call(MemoObject *m, PyObject *args, PyObject *kwargs) {
  PyObject *key = memo_key(m, args, kwargs);
  if (!key) return NULL;
  CacheObject *co = (CacheObject *)m->cache;
  macho_cache *c = enter(co);
  if (!c) {
    Py_DECREF(key);
    return NULL;
  }
  void *v = NULL;
  int rc = macho_obj_get(c, key, &v);
  leave(co);
  if (likely(rc == MACHO_OK)) {
    Py_DECREF(key);
    m->hits++;
    return v ? (PyObject *)v : Py_NewRef(Py_None);
  }
  if (rc != MACHO_ENOTFOUND) {
    Py_DECREF(key);
    return raise_status(rc);
  }
  PyObject *r = PyObject_CallFunctionObjArgs(m->miss, key, args, kwargs ? kwargs : Py_None, NULL);
  Py_DECREF(key);
  return r;
}

static int Memo_init(MemoObject *m, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"func", "cache", "miss", "typed", "namespace", NULL};
  PyObject *func, *cache, *miss, *ns = Py_None;
  int typed = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO!O|pO:Memo", kwlist, &func, &CacheType, &cache,
                                   &miss, &typed, &ns))
    return -1;
  if (!PyCallable_Check(func) || !PyCallable_Check(miss)) {
    PyErr_SetString(PyExc_TypeError, "Memo needs a callable func and miss");
    return -1;
  }
  Py_INCREF(func);
  Py_INCREF(cache);
  Py_INCREF(miss);
  Py_INCREF(ns);
  Py_XSETREF(m->func, func);
  Py_XSETREF(m->cache, cache);
  Py_XSETREF(m->miss, miss);
  Py_XSETREF(m->namespace, ns);
  m->typed = typed;
  return 0;
}

static int Memo_traverse(MemoObject *m, visitproc visit, void *arg) {
  Py_VISIT(m->func);
  Py_VISIT(m->cache);
  Py_VISIT(m->miss);
  Py_VISIT(m->namespace);
  Py_VISIT(m->dict);
  return 0;
}

static int Memo_clear(MemoObject *m) {
  Py_CLEAR(m->func);
  Py_CLEAR(m->cache);
  Py_CLEAR(m->miss);
  Py_CLEAR(m->namespace);
  Py_CLEAR(m->dict);
  return 0;
}

static void Memo_dealloc(MemoObject *m) {
  PyObject_GC_UnTrack(m);
  if (m->weakreflist) PyObject_ClearWeakRefs((PyObject *)m);
  Memo_clear(m);
  Py_TYPE(m)->tp_free((PyObject *)m);
}

static PyObject *Memo_descr_get(PyObject *self, PyObject *obj, PyObject *type) {
  (void)type;
  if (obj == NULL || obj == Py_None) return Py_NewRef(self);
  return PyMethod_New(self, obj);
}

static PyObject *Memo_get_hits(MemoObject *m, void *closure) {
  (void)closure;
  return PyLong_FromUnsignedLongLong(m->hits);
}

static int Memo_set_hits(MemoObject *m, PyObject *v, void *closure) {
  (void)closure;
  unsigned long long h;
  if (!v || int_in(v, "_hits", 0, UINT64_MAX, &h) < 0) {
    if (!v) PyErr_SetString(PyExc_TypeError, "_hits cannot be deleted");
    return -1;
  }
  m->hits = h;
  return 0;
}

static PyObject *Memo_get_field(MemoObject *m, void *closure) {
  PyObject *o = closure == (void *)0 ? m->func : closure == (void *)1 ? m->cache : m->namespace;
  return Py_NewRef(o ? o : Py_None);
}

static PyGetSetDef Memo_getset[] = {
    {"_hits", (getter)Memo_get_hits, (setter)Memo_set_hits, "calls answered by the C hit path", NULL},
    {"_func", (getter)Memo_get_field, NULL, "the memoised function", (void *)0},
    {"cache", (getter)Memo_get_field, NULL, "the macho.Cache holding the results", (void *)1},
    {"_namespace", (getter)Memo_get_field, NULL, "key prefix on a shared cache", (void *)2},
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject MemoType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "macho._macho.Memo",
    .tp_doc = "Memo(func, cache, miss, typed=False, namespace=None): the C hit path of a "
              "memoised function. Use macho.cached or Cache.memoize.",
    .tp_basicsize = sizeof(MemoObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Memo_init,
    .tp_dealloc = (destructor)Memo_dealloc,
    .tp_traverse = (traverseproc)Memo_traverse,
    .tp_clear = (inquiry)Memo_clear,
    .tp_call = (ternaryfunc)Memo_call,
    .tp_descr_get = Memo_descr_get,
    .tp_getset = Memo_getset,
    .tp_dictoffset = offsetof(MemoObject, dict),
    .tp_weaklistoffset = offsetof(MemoObject, weakreflist),
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

static PyObject *mod_strerror(PyObject *m, PyObject *arg) {
  (void)m;
  int overflow = 0;
  long code = PyLong_AsLongAndOverflow(arg, &overflow);
  if (code == -1 && PyErr_Occurred()) return NULL;
  if (overflow || code < INT_MIN || code > INT_MAX) code = INT_MIN;
  return PyUnicode_FromString(macho_strerror((int)code));
}

static PyMethodDef module_methods[] = {
    {"policies", mod_policies, METH_NOARGS,
     "policies() -> [(name, implemented), ...] for every libmacho eviction policy."},
    {"filters", mod_filters, METH_NOARGS,
     "filters() -> [(name, implemented), ...] for every libmacho membership filter."},
    {"strerror", mod_strerror, METH_O, "strerror(status) -> libmacho's message for a status code."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef macho_module = {
    PyModuleDef_HEAD_INIT, "macho._macho",
    "libmacho, an in-memory cache in C, in object mode. See the macho package.", -1,
    module_methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__macho(void) {
  if (PyType_Ready(&CacheType) < 0 || PyType_Ready(&MemoType) < 0) return NULL;
  PyObject *pk = PyImport_ImportModule("pickle");
  if (!pk) return NULL;
  pickle_dumps = PyObject_GetAttrString(pk, "dumps");
  pickle_loads = PyObject_GetAttrString(pk, "loads");
  Py_DECREF(pk);
  if (!pickle_dumps || !pickle_loads) return NULL;
  for (int r = 0; r < MACHO_REMOVAL_REASONS; r++) {
    reason_str[r] = PyUnicode_InternFromString(removal_reason[r]);
    if (!reason_str[r]) return NULL;
  }
  PyObject *m = PyModule_Create(&macho_module);
  if (!m) return NULL;
  ClosedError = PyErr_NewExceptionWithDoc(
      "macho.CacheClosedError", "An operation on a macho.Cache after its close().",
      PyExc_ValueError, NULL);
  kwd_mark = PyBaseObject_Type.tp_alloc(&PyBaseObject_Type, 0);
  if (!ClosedError || !kwd_mark) goto fail;
  Py_INCREF(&CacheType);
  Py_INCREF(&MemoType);
  Py_INCREF(ClosedError);
  if (PyModule_AddObject(m, "CacheCore", (PyObject *)&CacheType) < 0 ||
      PyModule_AddObject(m, "Memo", (PyObject *)&MemoType) < 0 ||
      PyModule_AddObject(m, "CacheClosedError", ClosedError) < 0 ||
      PyModule_AddStringConstant(m, "libmacho_version", macho_version_string()) < 0 ||
      PyModule_AddIntConstant(m, "EADDRINUSE_STATUS", PYMACHO_EADDRINUSE) < 0 ||
#ifdef MACHO_PY_HAVE_DASHBOARD
      PyModule_AddIntConstant(m, "HAVE_DASHBOARD", 1) < 0
#else
      PyModule_AddIntConstant(m, "HAVE_DASHBOARD", 0) < 0
#endif
  )
    goto fail;
  return m;
fail:
  Py_DECREF(m);
  return NULL;
}
