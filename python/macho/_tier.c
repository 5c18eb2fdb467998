/*
 * _tier.c -- the CPython extension `macho._tier`: macho.Tier, libmacho's
 * Redis tier (a coherent L1 in front of Redis) with the Cache API.
 *
 * Keys and values are bytes as Redis sees them: str is encoded as UTF-8,
 * anything with the buffer protocol (bytes, bytearray, memoryview) is taken
 * as is; get returns bytes, or str with decode_responses=True (redis-py's
 * convention). Every call that may wait for Redis releases the GIL; the L1
 * lookup comes first inside macho_tier_get, so a hit costs one libmacho get.
 *
 * The loader is a Python callable loader(key) -> value | None | (value,
 * ttl). libmacho calls it on the calling thread, GIL released, once per key
 * at a time; the trampoline takes the GIL, and an exception it raises is
 * kept in a thread-local slot and re-raised by the get that ran it (other
 * callers waiting for that load get RuntimeError). close() waits for calls
 * in flight (a lock held shared by each call), so no call sees a closed
 * tier. Built separately from macho._macho (setup.py); includes only
 * macho.h.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "macho/macho.h"

/* Py_NewRef and PyObject_CallOneArg are 3.10 / 3.9: spelled out for 3.8. */
static inline PyObject *new_ref(PyObject *o) {
  Py_INCREF(o);
  return o;
}

typedef struct {
  PyObject_HEAD
  macho_tier *tier;
  pthread_rwlock_t use; /* shared: a call in flight; exclusive: close */
  int use_ready;
  PyObject *loader;     /* callable or NULL */
  int decode;
  PyObject *weakreflist;
} TierObject;

/* The loader's exception, from the trampoline to the get that ran it. */
static _Thread_local PyObject *pending_type, *pending_value, *pending_tb;

/* ---- helpers ------------------------------------------------------------------- */

/* Bytes of a key or value: str (UTF-8) or a buffer. view must be released. */
static int as_bytes(PyObject *o, const char *what, Py_buffer *view, PyObject **tmp) {
  *tmp = NULL;
  if (PyUnicode_Check(o)) {
    *tmp = PyUnicode_AsUTF8String(o);
    if (!*tmp) return -1;
    o = *tmp;
  }
  if (PyObject_GetBuffer(o, view, PyBUF_SIMPLE) != 0) {
    Py_CLEAR(*tmp);
    PyErr_Format(PyExc_TypeError, "%s must be str or bytes-like, not %s", what, Py_TYPE(o)->tp_name);
    return -1;
  }
  return 0;
}

static void release_bytes(Py_buffer *view, PyObject *tmp) {
  PyBuffer_Release(view);
  Py_XDECREF(tmp);
}

static PyObject *raise_tier(TierObject *self, int rc) {
  if (pending_type) {
    PyErr_Restore(pending_type, pending_value, pending_tb);
    pending_type = pending_value = pending_tb = NULL;
    return NULL;
  }
  char err[256] = "";
  if (self->tier && macho_tier_last_error(self->tier, err, sizeof err) != MACHO_OK) err[0] = '\0';
  switch (rc) {
  case MACHO_ENOMEM: return PyErr_NoMemory();
  case MACHO_EINVAL: PyErr_Format(PyExc_ValueError, "macho.Tier: %s", macho_strerror(rc)); break;
  case MACHO_EIO:
    PyErr_Format(PyExc_ConnectionError, "macho.Tier: Redis: %s", err[0] ? err : macho_strerror(rc));
    break;
  case MACHO_ECALLBACK: PyErr_SetString(PyExc_RuntimeError, "macho.Tier: the loader failed (in another call)"); break;
  case MACHO_EBUSY: PyErr_SetString(PyExc_RuntimeError, "macho.Tier: the loader asked for the key it is loading"); break;
  case MACHO_ENOTSUP: PyErr_Format(PyExc_NotImplementedError, "macho.Tier: %s", macho_strerror(rc)); break;
  default: PyErr_Format(PyExc_RuntimeError, "macho.Tier: %s (%s)", macho_strerror(rc), macho_status_name(rc));
  }
  return NULL;
}

/* Enter a call: the tier is open and stays open until leave(). */
static int enter(TierObject *self) {
  if (!self->use_ready) {
    PyErr_SetString(PyExc_RuntimeError, "macho.Tier is not initialised");
    return -1;
  }
  pthread_rwlock_rdlock(&self->use);
  if (!self->tier) {
    pthread_rwlock_unlock(&self->use);
    PyErr_SetString(PyExc_ValueError, "macho.Tier is closed");
    return -1;
  }
  return 0;
}

static void leave(TierObject *self) { pthread_rwlock_unlock(&self->use); }

static PyObject *make_value(TierObject *self, const char *p, size_t n) {
  return self->decode ? PyUnicode_DecodeUTF8(p, (Py_ssize_t)n, "strict") : PyBytes_FromStringAndSize(p, (Py_ssize_t)n);
}

/* ---- the loader trampoline ------------------------------------------------------- */

static int py_loader(void *ctx, const void *key, size_t klen, macho_tier_load *out) {
  TierObject *self = ctx;
  PyGILState_STATE g = PyGILState_Ensure();
  int rc = MACHO_ECALLBACK;
  PyObject *k = make_value(self, key, klen);
  PyObject *res = k ? PyObject_CallFunctionObjArgs(self->loader, k, NULL) : NULL;
  Py_XDECREF(k);
  if (res == Py_None) {
    rc = MACHO_ENOTFOUND;
  } else if (res) {
    PyObject *value = res;
    double ttl = 0;
    if (PyTuple_Check(res) && PyTuple_GET_SIZE(res) == 2) {
      value = PyTuple_GET_ITEM(res, 0);
      PyObject *t = PyTuple_GET_ITEM(res, 1);
      if (t != Py_None) {
        ttl = PyFloat_AsDouble(t);
        if (ttl == -1.0 && PyErr_Occurred()) goto done;
        if (isnan(ttl) || ttl <= 0) {
          PyErr_SetString(PyExc_ValueError, "the loader's ttl must be positive seconds (or None)");
          goto done;
        }
      }
    }
    Py_buffer view;
    PyObject *tmp;
    if (as_bytes(value, "the loader's value", &view, &tmp) == 0) {
      rc = macho_tier_load_set(out, view.buf, (size_t)view.len, ttl);
      release_bytes(&view, tmp);
      if (rc == MACHO_ENOMEM) PyErr_NoMemory();
      if (rc != MACHO_OK) rc = MACHO_ECALLBACK;
    }
  }
done:
  Py_XDECREF(res);
  if (rc == MACHO_ECALLBACK && PyErr_Occurred()) {
    /* Keep it for the get on this thread that asked (raise_tier). */
    Py_CLEAR(pending_type);
    Py_CLEAR(pending_value);
    Py_CLEAR(pending_tb);
    PyErr_Fetch(&pending_type, &pending_value, &pending_tb);
  }
  PyGILState_Release(g);
  return rc;
}

/* ---- type ------------------------------------------------------------------------ */

static PyObject *Tier_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
  (void)args, (void)kw;
  TierObject *self = (TierObject *)type->tp_alloc(type, 0);
  if (!self) return NULL;
  if (pthread_rwlock_init(&self->use, NULL) != 0) {
    Py_DECREF(self);
    return PyErr_NoMemory();
  }
  self->use_ready = 1;
  return (PyObject *)self;
}

static int ms_arg(PyObject *o, const char *name, double dflt, uint32_t *out) {
  double s = dflt;
  if (o && o != Py_None) {
    if (PyBool_Check(o) || !(PyFloat_Check(o) || PyLong_Check(o))) {
      PyErr_Format(PyExc_TypeError, "Parameter '%s' must be a number of seconds, not %s", name, Py_TYPE(o)->tp_name);
      return -1;
    }
    s = PyFloat_AsDouble(o);
    if (s == -1.0 && PyErr_Occurred()) return -1;
  }
  if (!(s >= 0.001 && s <= 3600)) {
    PyErr_Format(PyExc_ValueError, "Parameter '%s' must be from 0.001 to 3600 seconds, got %g", name, s);
    return -1;
  }
  *out = (uint32_t)ceil(s * 1000.0);
  return 0;
}

static int Tier_init(TierObject *self, PyObject *args, PyObject *kw) {
  static char *names[] = {"redis", "max_cache_size", "ttl", "shard_count", "strategy", "key_prefix", "bcast",
                          "prefixes", "connections", "connect_timeout", "timeout", "heartbeat_interval",
                          "heartbeat_timeout", "reconnect_max", "l2_ttl", "loader", "decode_responses",
                          "username", "password", "db", NULL};
  const char *redis = "127.0.0.1:6379", *strategy = "lru", *key_prefix = NULL, *username = NULL, *password = NULL;
  Py_ssize_t capacity = 100, shards = 1, connections = 2, db = 0;
  double ttl = 600.0;
  int bcast = 0, decode = 0;
  PyObject *prefixes = NULL, *connect_timeout = NULL, *timeout = NULL, *hb_interval = NULL, *hb_timeout = NULL,
           *reconnect_max = NULL, *l2_ttl = NULL, *loader = NULL;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "|sndns$zpOnOOOOOOOpzzn", names, &redis, &capacity, &ttl, &shards,
                                   &strategy, &key_prefix, &bcast, &prefixes, &connections, &connect_timeout,
                                   &timeout, &hb_interval, &hb_timeout, &reconnect_max, &l2_ttl, &loader, &decode,
                                   &username, &password, &db))
    return -1;
  if (self->tier) {
    PyErr_SetString(PyExc_RuntimeError, "a Tier cannot be initialised twice");
    return -1;
  }
  if (capacity < 1) return PyErr_Format(PyExc_ValueError, "Parameter 'max_cache_size' must be at least 1"), -1;
  if (shards < 1 || shards > capacity)
    return PyErr_Format(PyExc_ValueError, "Parameter 'shard_count' must be from 1 to max_cache_size"), -1;
  if (isnan(ttl) || ttl <= 0)
    return PyErr_Format(PyExc_ValueError, "Parameter 'ttl' must be positive seconds (float('inf') = none)"), -1;
  if (connections < 1 || connections > 64)
    return PyErr_Format(PyExc_ValueError, "Parameter 'connections' must be from 1 to 64"), -1;
  if (db < 0 || db > INT32_MAX) return PyErr_Format(PyExc_ValueError, "Parameter 'db' must be 0 or more"), -1;
  if (loader && loader != Py_None && !PyCallable_Check(loader))
    return PyErr_Format(PyExc_TypeError, "Parameter 'loader' must be callable"), -1;

  macho_config l1;
  macho_config_init(&l1);
  l1.capacity_entries = (size_t)capacity;
  l1.shards = (uint32_t)shards;
  l1.ttl_seconds = ttl;
  if (macho_policy_parse(strategy, &l1.policy) != MACHO_OK || !macho_policy_available(l1.policy))
    return PyErr_Format(PyExc_ValueError, "Parameter 'strategy': unknown or unavailable policy '%s'", strategy), -1;

  macho_tier_options o;
  macho_tier_options_init(&o);
  o.redis = redis;
  o.key_prefix = key_prefix;
  o.bcast = bcast;
  o.connections = (uint32_t)connections;
  o.username = username;
  o.password = password;
  o.db = (int)db;
  o.l1 = &l1;
  if (ms_arg(connect_timeout, "connect_timeout", 1.0, &o.connect_timeout_ms) ||
      ms_arg(timeout, "timeout", 1.0, &o.command_timeout_ms) ||
      ms_arg(hb_interval, "heartbeat_interval", 0.5, &o.heartbeat_interval_ms) ||
      ms_arg(hb_timeout, "heartbeat_timeout", 0.5, &o.heartbeat_timeout_ms) ||
      ms_arg(reconnect_max, "reconnect_max", 1.0, &o.reconnect_max_ms))
    return -1;
  if (l2_ttl && l2_ttl != Py_None) {
    o.l2_ttl_seconds = PyFloat_AsDouble(l2_ttl);
    if (o.l2_ttl_seconds == -1.0 && PyErr_Occurred()) return -1;
    if (isnan(o.l2_ttl_seconds) || o.l2_ttl_seconds <= 0)
      return PyErr_Format(PyExc_ValueError, "Parameter 'l2_ttl' must be positive seconds or None"), -1;
  }
  /* BCAST prefixes: a sequence of str/bytes, kept alive for the open call. */
  PyObject *seq = NULL, *encoded[64] = {0};
  const char *plist[64];
  size_t np = 0;
  if (prefixes && prefixes != Py_None) {
    seq = PySequence_Fast(prefixes, "Parameter 'prefixes' must be a sequence of str");
    if (!seq) return -1;
    if (PySequence_Fast_GET_SIZE(seq) > 64) {
      Py_DECREF(seq);
      return PyErr_Format(PyExc_ValueError, "Parameter 'prefixes': at most 64"), -1;
    }
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
      PyObject *p = PySequence_Fast_GET_ITEM(seq, i);
      encoded[np] = PyUnicode_Check(p) ? PyUnicode_AsUTF8String(p) : (Py_INCREF(p), p);
      if (!encoded[np] || !PyBytes_Check(encoded[np])) {
        if (encoded[np] && !PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "Parameter 'prefixes': str or bytes");
        for (size_t j = 0; j <= np; j++) Py_XDECREF(encoded[j]);
        Py_DECREF(seq);
        return -1;
      }
      plist[np] = PyBytes_AS_STRING(encoded[np]);
      np++;
    }
    o.bcast_prefixes = plist;
    o.nbcast_prefixes = np;
  }
  if (loader && loader != Py_None) {
    Py_INCREF(loader);
    self->loader = loader;
    o.loader = py_loader;
    o.loader_ctx = self;
  }
  self->decode = decode;
  char err[256] = "";
  o.error_buf = err;
  o.error_buf_size = sizeof err;
  macho_tier *t = NULL;
  int rc;
  Py_BEGIN_ALLOW_THREADS rc = macho_tier_open(&o, &t);
  Py_END_ALLOW_THREADS for (size_t j = 0; j < np; j++) Py_XDECREF(encoded[j]);
  Py_XDECREF(seq);
  if (rc != MACHO_OK) {
    Py_CLEAR(self->loader);
    if (rc == MACHO_EIO)
      PyErr_Format(PyExc_ConnectionError, "macho.Tier: %s", err);
    else if (rc == MACHO_ENOMEM)
      PyErr_NoMemory();
    else if (rc == MACHO_ENOTSUP)
      PyErr_Format(PyExc_NotImplementedError, "macho.Tier: %s", err);
    else
      PyErr_Format(PyExc_ValueError, "macho.Tier: %s", err);
    return -1;
  }
  self->tier = t;
  return 0;
}

/* Close, after the calls in flight (they hold `use` shared). The tier's own
 * thread never takes the GIL, so the GIL is released only to wait. From the
 * garbage collector (tp_clear) no call can be in flight: nothing else
 * references the object. */
static void close_tier(TierObject *self, int release_gil) {
  if (!self->use_ready) return;
  if (release_gil) {
    Py_BEGIN_ALLOW_THREADS pthread_rwlock_wrlock(&self->use);
    Py_END_ALLOW_THREADS
  } else {
    pthread_rwlock_wrlock(&self->use);
  }
  macho_tier *t = self->tier;
  self->tier = NULL;
  pthread_rwlock_unlock(&self->use);
  if (t && release_gil) {
    Py_BEGIN_ALLOW_THREADS macho_tier_close(t);
    Py_END_ALLOW_THREADS
  } else if (t) {
    macho_tier_close(t);
  }
}

static void Tier_dealloc(TierObject *self) {
  PyObject_GC_UnTrack(self);
  if (self->weakreflist) PyObject_ClearWeakRefs((PyObject *)self);
  close_tier(self, 1);
  Py_CLEAR(self->loader);
  if (self->use_ready) pthread_rwlock_destroy(&self->use);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Tier_traverse(TierObject *self, visitproc visit, void *arg) {
  Py_VISIT(self->loader);
  return 0;
}

static int Tier_clear_refs(TierObject *self) {
  close_tier(self, 0); /* the loader may be what keeps us in a cycle: no call may use it after */
  Py_CLEAR(self->loader);
  return 0;
}

/* get(key, default=None) */
static PyObject *Tier_get(TierObject *self, PyObject *args, PyObject *kw) {
  static char *names[] = {"key", "default", NULL};
  PyObject *key, *dflt = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O", names, &key, &dflt)) return NULL;
  Py_buffer kv;
  PyObject *ktmp;
  if (as_bytes(key, "key", &kv, &ktmp) != 0) return NULL;
  if (enter(self) != 0) {
    release_bytes(&kv, ktmp);
    return NULL;
  }
  char stack[512];
  char *buf = stack;
  size_t cap = sizeof stack, n = 0;
  int rc;
  PyObject *result = NULL;
  for (int attempt = 0;; attempt++) {
    Py_BEGIN_ALLOW_THREADS rc = macho_tier_get(self->tier, kv.buf, (size_t)kv.len, buf, cap, &n);
    Py_END_ALLOW_THREADS if (rc != MACHO_ERANGE || attempt > 8) break;
    /* The value is bigger than the buffer: grow and ask again (from L1). */
    if (buf != stack) PyMem_Free(buf);
    cap = n;
    buf = PyMem_Malloc(cap ? cap : 1);
    if (!buf) {
      leave(self);
      release_bytes(&kv, ktmp);
      return PyErr_NoMemory();
    }
  }
  if (rc == MACHO_OK)
    result = make_value(self, buf, n);
  else if (rc == MACHO_ENOTFOUND) {
    Py_INCREF(dflt);
    result = dflt;
  } else
    raise_tier(self, rc);
  if (buf != stack) PyMem_Free(buf);
  leave(self);
  release_bytes(&kv, ktmp);
  return result;
}

static PyObject *do_put(TierObject *self, PyObject *key, PyObject *value, PyObject *ttl) {
  double seconds = -1;
  if (ttl && ttl != Py_None) {
    if (PyBool_Check(ttl) || !(PyFloat_Check(ttl) || PyLong_Check(ttl)))
      return PyErr_Format(PyExc_TypeError, "ttl must be a number of seconds, not %s", Py_TYPE(ttl)->tp_name);
    seconds = PyFloat_AsDouble(ttl);
    if (seconds == -1.0 && PyErr_Occurred()) return NULL;
    if (isnan(seconds) || seconds <= 0)
      return PyErr_Format(PyExc_ValueError, "ttl must be positive seconds (float('inf') = none), got %R", ttl);
  }
  Py_buffer kv, vv;
  PyObject *ktmp, *vtmp;
  if (as_bytes(key, "key", &kv, &ktmp) != 0) return NULL;
  if (as_bytes(value, "value", &vv, &vtmp) != 0) {
    release_bytes(&kv, ktmp);
    return NULL;
  }
  PyObject *result = NULL;
  if (enter(self) == 0) {
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = seconds < 0
                                    ? macho_tier_put(self->tier, kv.buf, (size_t)kv.len, vv.buf, (size_t)vv.len)
                                    : macho_tier_put_ttl(self->tier, kv.buf, (size_t)kv.len, vv.buf, (size_t)vv.len,
                                                         seconds);
    Py_END_ALLOW_THREADS if (rc == MACHO_OK) result = new_ref(Py_None);
    else raise_tier(self, rc);
    leave(self);
  }
  release_bytes(&vv, vtmp);
  release_bytes(&kv, ktmp);
  return result;
}

/* add(key, value, ttl=None) */
static PyObject *Tier_add(TierObject *self, PyObject *args, PyObject *kw) {
  static char *names[] = {"key", "value", "ttl", NULL};
  PyObject *key, *value, *ttl = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O", names, &key, &value, &ttl)) return NULL;
  return do_put(self, key, value, ttl);
}

/* delete(key) -> bool */
static PyObject *do_delete(TierObject *self, PyObject *key, int raise_missing) {
  Py_buffer kv;
  PyObject *ktmp;
  if (as_bytes(key, "key", &kv, &ktmp) != 0) return NULL;
  PyObject *result = NULL;
  if (enter(self) == 0) {
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = macho_tier_delete(self->tier, kv.buf, (size_t)kv.len);
    Py_END_ALLOW_THREADS if (rc == MACHO_OK) result = new_ref(Py_True);
    else if (rc == MACHO_ENOTFOUND) {
      if (raise_missing)
        PyErr_SetObject(PyExc_KeyError, key);
      else
        result = new_ref(Py_False);
    } else raise_tier(self, rc);
    leave(self);
  }
  release_bytes(&kv, ktmp);
  return result;
}

static PyObject *Tier_delete(TierObject *self, PyObject *key) { return do_delete(self, key, 0); }

static PyObject *Tier_clear(TierObject *self, PyObject *unused) {
  (void)unused;
  if (enter(self) != 0) return NULL;
  int rc = macho_tier_flush_local(self->tier);
  leave(self);
  return rc == MACHO_OK ? new_ref(Py_None) : raise_tier(self, rc);
}

typedef struct keys_ctx {
  TierObject *self;
  PyObject *list;
} keys_ctx;

static int collect_key(void *ctx, const void *key, size_t klen) {
  keys_ctx *k = ctx;
  PyObject *o = make_value(k->self, key, klen);
  if (!o) return 1;
  int rc = PyList_Append(k->list, o);
  Py_DECREF(o);
  return rc ? 1 : 0;
}

/* keys(): the keys L1 holds now (a snapshot; Redis may hold more). */
static PyObject *Tier_keys(TierObject *self, PyObject *unused) {
  (void)unused;
  if (enter(self) != 0) return NULL;
  keys_ctx k = {self, PyList_New(0)};
  int rc = k.list ? macho_foreach_key(macho_tier_l1(self->tier), collect_key, &k) : 1;
  leave(self);
  if (rc == 0) return k.list;
  Py_XDECREF(k.list);
  return rc == 1 ? NULL : raise_tier(self, rc);
}

static PyObject *Tier_wait_ready(TierObject *self, PyObject *args, PyObject *kw) {
  static char *names[] = {"timeout", NULL};
  double timeout = 5.0;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "|d", names, &timeout)) return NULL;
  if (!(timeout >= 0 && timeout <= 3600)) return PyErr_Format(PyExc_ValueError, "timeout must be 0 to 3600 s");
  if (enter(self) != 0) return NULL;
  int rc;
  Py_BEGIN_ALLOW_THREADS rc = macho_tier_wait_ready(self->tier, (uint32_t)(timeout * 1000.0));
  Py_END_ALLOW_THREADS leave(self);
  return PyBool_FromLong(rc == MACHO_OK);
}

static PyObject *Tier_close(TierObject *self, PyObject *unused) {
  (void)unused;
  close_tier(self, 1);
  Py_RETURN_NONE;
}

static PyObject *Tier_enter(TierObject *self, PyObject *unused) {
  (void)unused;
  return new_ref((PyObject *)self);
}

static PyObject *Tier_exit(TierObject *self, PyObject *args) {
  (void)args;
  close_tier(self, 1);
  Py_RETURN_FALSE;
}

#define ADD(d, name, expr)                                  \
  do {                                                      \
    PyObject *v_ = (expr);                                  \
    if (!v_ || PyDict_SetItemString((d), (name), v_) < 0) { \
      Py_XDECREF(v_);                                       \
      Py_DECREF(d);                                         \
      return NULL;                                          \
    }                                                       \
    Py_DECREF(v_);                                          \
  } while (0)

static PyObject *Tier_stats(TierObject *self, void *closure) {
  (void)closure;
  if (enter(self) != 0) return NULL;
  macho_tier_stats s;
  macho_counters c;
  int rc = macho_tier_stats_get(self->tier, &s);
  if (rc == MACHO_OK) rc = macho_counters_get(macho_tier_l1(self->tier), -1, &c);
  leave(self);
  if (rc != MACHO_OK) return raise_tier(self, rc);
  PyObject *d = PyDict_New(), *fl = PyDict_New();
  if (!d || !fl) {
    Py_XDECREF(d);
    Py_XDECREF(fl);
    return NULL;
  }
  for (int i = 0; i < MACHO_TIER_FLUSH_COUNT; i++) {
    PyObject *v = PyLong_FromUnsignedLongLong(s.flushes[i]);
    if (!v || PyDict_SetItemString(fl, macho_tier_flush_cause_name(i), v) < 0) {
      Py_XDECREF(v);
      Py_DECREF(fl);
      Py_DECREF(d);
      return NULL;
    }
    Py_DECREF(v);
  }
  ADD(d, "flushes", fl);
#define U(name, x) ADD(d, name, PyLong_FromUnsignedLongLong(x))
  U("l1_hits", s.l1_hits);
  U("l1_misses", s.l1_misses);
  U("l2_hits", s.l2_hits);
  U("l2_misses", s.l2_misses);
  U("l2_errors", s.l2_errors);
  U("lease_bypasses", s.lease_bypasses);
  U("joined", s.joined);
  U("loads", s.loads);
  U("load_errors", s.load_errors);
  U("puts", s.puts);
  U("deletes", s.deletes);
  U("fills", s.fills);
  U("fills_refused", s.fills_refused);
  U("fills_skipped", s.fills_skipped);
  U("invalidation_messages", s.invalidation_messages);
  U("invalidations", s.invalidations);
  U("reconnects", s.reconnects);
  U("heartbeats", s.heartbeats);
  U("l1_entries", c.entries);
  U("l1_memory_bytes", c.memory_bytes);
#undef U
  ADD(d, "heartbeat_rtt_max", PyFloat_FromDouble((double)s.heartbeat_rtt_ns_max / 1e9));
  ADD(d, "tracking", PyBool_FromLong(s.tracking));
  ADD(d, "invalidation_client_id", PyLong_FromLongLong(s.invalidation_client_id));
  ADD(d, "connections", PyLong_FromUnsignedLong(s.connections));
  return d;
}

static PyObject *Tier_last_error(TierObject *self, void *closure) {
  (void)closure;
  if (enter(self) != 0) return NULL;
  char err[256];
  int rc = macho_tier_last_error(self->tier, err, sizeof err);
  leave(self);
  if (rc != MACHO_OK) return raise_tier(self, rc);
  return PyUnicode_DecodeUTF8(err, (Py_ssize_t)strlen(err), "replace");
}

static PyObject *Tier_current_size(TierObject *self, void *closure) {
  (void)closure;
  if (enter(self) != 0) return NULL;
  size_t n = macho_len(macho_tier_l1(self->tier));
  leave(self);
  return PyLong_FromSize_t(n);
}

static PyObject *Tier_closed(TierObject *self, void *closure) {
  (void)closure;
  return PyBool_FromLong(self->tier == NULL);
}

static Py_ssize_t Tier_len(TierObject *self) {
  if (enter(self) != 0) return -1;
  size_t n = macho_len(macho_tier_l1(self->tier));
  leave(self);
  return (Py_ssize_t)n;
}

static PyObject *Tier_subscript(TierObject *self, PyObject *key) {
  PyObject *marker = PyTuple_New(0); /* a default nothing else can be */
  if (!marker) return NULL;
  PyObject *args = PyTuple_Pack(2, key, marker);
  if (!args) {
    Py_DECREF(marker);
    return NULL;
  }
  PyObject *r = Tier_get(self, args, NULL);
  Py_DECREF(args);
  if (r == marker) {
    Py_DECREF(r);
    PyErr_SetObject(PyExc_KeyError, key);
    r = NULL;
  }
  Py_DECREF(marker);
  return r;
}

static int Tier_ass_subscript(TierObject *self, PyObject *key, PyObject *value) {
  PyObject *r = value ? do_put(self, key, value, NULL) : do_delete(self, key, 1);
  if (!r) return -1;
  Py_DECREF(r);
  return 0;
}

static int Tier_contains(TierObject *self, PyObject *key) {
  PyObject *marker = PyTuple_New(0);
  if (!marker) return -1;
  PyObject *args = PyTuple_Pack(2, key, marker);
  if (!args) {
    Py_DECREF(marker);
    return -1;
  }
  PyObject *r = Tier_get(self, args, NULL);
  Py_DECREF(args);
  int found = r ? r != marker : -1;
  Py_XDECREF(r);
  Py_DECREF(marker);
  return found;
}

static PyObject *Tier_repr(TierObject *self) {
  return PyUnicode_FromFormat("<macho.Tier %s>", self->tier ? "open" : "closed");
}

static PyMethodDef Tier_methods[] = {
    {"get", (PyCFunction)(void (*)(void))Tier_get, METH_VARARGS | METH_KEYWORDS,
     "get(key, default=None): the value from L1, else from Redis (then kept in L1), else from the loader;\n"
     "default when absent. Raises ConnectionError when Redis fails or times out."},
    {"add", (PyCFunction)(void (*)(void))Tier_add, METH_VARARGS | METH_KEYWORDS,
     "add(key, value, ttl=None): write through to Redis (SET, with ttl seconds or l2_ttl) and L1."},
    {"delete", (PyCFunction)Tier_delete, METH_O, "delete(key) -> bool: DEL in Redis and drop from L1; True if Redis had it."},
    {"clear", (PyCFunction)Tier_clear, METH_NOARGS,
     "clear(): empty L1 (this process's copy). Redis, shared by every process, is unchanged."},
    {"keys", (PyCFunction)Tier_keys, METH_NOARGS, "keys() -> list: the keys L1 holds now (Redis may hold more)."},
    {"wait_ready", (PyCFunction)(void (*)(void))Tier_wait_ready, METH_VARARGS | METH_KEYWORDS,
     "wait_ready(timeout=5.0) -> bool: wait until tracking is up (after a failure it reconnects by itself)."},
    {"close", (PyCFunction)Tier_close, METH_NOARGS, "close(): stop the tier (waits for calls in flight). Idempotent."},
    {"__enter__", (PyCFunction)Tier_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)Tier_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Tier_getset[] = {
    {"stats", (getter)Tier_stats, NULL,
     "dict: l1_hits, l1_misses, l2_hits, l2_misses, l2_errors, invalidations, flushes by cause, tracking, ...", NULL},
    {"last_error", (getter)Tier_last_error, NULL, "The last failure the tier saw, as a sentence ('' if none).", NULL},
    {"current_size", (getter)Tier_current_size, NULL, "Entries in L1 now (this process's copy).", NULL},
    {"closed", (getter)Tier_closed, NULL, "True after close().", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMappingMethods Tier_mapping = {(lenfunc)Tier_len, (binaryfunc)Tier_subscript,
                                        (objobjargproc)Tier_ass_subscript};
static PySequenceMethods Tier_sequence = {.sq_contains = (objobjproc)Tier_contains};

PyDoc_STRVAR(Tier_doc,
             "Tier(redis='127.0.0.1:6379', max_cache_size=100, ttl=600.0, shard_count=1, strategy='lru', *,\n"
             "     key_prefix=None, bcast=False, prefixes=None, connections=2, connect_timeout=1.0, timeout=1.0,\n"
             "     heartbeat_interval=0.5, heartbeat_timeout=0.5, reconnect_max=1.0, l2_ttl=None, loader=None,\n"
             "     decode_responses=False, username=None, password=None, db=0)\n"
             "\n"
             "A macho cache (L1, in this process) kept coherent with Redis (L2, shared): Redis tells the tier\n"
             "which keys changed (CLIENT TRACKING) and the tier drops them. get() reads L1, then Redis;\n"
             "add()/delete() write through. max_cache_size, ttl, shard_count and strategy configure L1 as in\n"
             "macho.Cache; ttl also caps how long a value stays in L1. Keys and values are str (UTF-8) or bytes;\n"
             "get() returns bytes, or str with decode_responses=True. loader(key) -> value | None | (value, ttl)\n"
             "fills a double miss (once per key at a time; its value is also written to Redis). On a network\n"
             "failure L1 is emptied and calls raise ConnectionError until Redis is back (the tier reconnects by\n"
             "itself); a silent connection is detected within heartbeat_interval + heartbeat_timeout.\n"
             "Raises ConnectionError when Redis cannot be reached at construction. Thread-safe.");

static PyTypeObject TierType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "macho.Tier",
    .tp_basicsize = sizeof(TierObject),
    .tp_dealloc = (destructor)Tier_dealloc,
    .tp_repr = (reprfunc)Tier_repr,
    .tp_as_sequence = &Tier_sequence,
    .tp_as_mapping = &Tier_mapping,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = Tier_doc,
    .tp_traverse = (traverseproc)Tier_traverse,
    .tp_clear = (inquiry)Tier_clear_refs,
    .tp_weaklistoffset = offsetof(TierObject, weakreflist),
    .tp_methods = Tier_methods,
    .tp_getset = Tier_getset,
    .tp_init = (initproc)Tier_init,
    .tp_new = Tier_new,
};

static PyObject *mod_available(PyObject *m, PyObject *unused) {
  (void)m, (void)unused;
  return PyBool_FromLong(macho_tier_available());
}

static PyMethodDef module_methods[] = {
    {"available", mod_available, METH_NOARGS, "True when this build has the Redis tier (hiredis)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef tier_module = {PyModuleDef_HEAD_INIT, "macho._tier",
                                         "macho.Tier: a coherent near-cache in front of Redis.", -1, module_methods,
                                         NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__tier(void) {
  if (PyType_Ready(&TierType) < 0) return NULL;
  PyObject *m = PyModule_Create(&tier_module);
  if (!m) return NULL;
  Py_INCREF(&TierType);
  if (PyModule_AddObject(m, "Tier", (PyObject *)&TierType) < 0) {
    Py_DECREF(&TierType);
    Py_DECREF(m);
    return NULL;
  }
  return m;
}
