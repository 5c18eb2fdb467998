/*
 * test_table.c -- the shard index (src/table.c), white-box through internal.h.
 *
 * The index is open addressing with linear probing and backward-shift
 * deletion, so the property that matters is Knuth's invariant: between an
 * entry's home slot and the slot it sits in there is no empty slot. These
 * tests build hand-made shards whose tags all land on a few home slots (long
 * clusters, including ones that wrap around the end of the array), delete in
 * random order and check, after every step, that the invariant holds and
 * that every key is found exactly where the model says. Slab growth is then
 * checked through the public API on a real cache.
 */
#include "support.h"
#include "internal.h"
#include "hash.h"

#include <stdio.h>
#include <stdlib.h>

#define N 600u /* entries in the hand-made shard */

typedef struct fake_shard {
  macho__shard sh;
  macho__alloc alloc;
  macho__entry entries[N];
  uint64_t keys[N];
  bool in_index[N];
} fake_shard;

/* A hash whose low 32 bits (the tag) are `tag`, and whose high bits tell keys apart. */
static uint64_t hash_with_tag(uint32_t id, uint32_t tag) { return ((uint64_t)(id + 1) << 32) | tag; }

static fake_shard *fake_new(void) {
  fake_shard *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->sh.alloc = &f->alloc;
  f->sh.entries = f->entries;
  f->sh.slab_cap = N;
  assert_int_equal(macho__index_init(&f->sh, N), MACHO_OK);
  for (uint32_t id = 0; id < N; id++) {
    f->keys[id] = 0x1000 + id;
    f->entries[id].key = &f->keys[id];
    f->entries[id].val.len.klen = sizeof(uint64_t);
  }
  return f;
}

static void fake_free(fake_shard *f) {
  macho__index_free(&f->sh);
  free(f);
}

/* Every indexed entry is found, every other one is not, and no empty slot
 * lies between an occupant's home slot and its slot. */
static void check_index(fake_shard *f) {
  macho__shard *sh = &f->sh;
  uint32_t occupied = 0, expected = 0;
  for (uint32_t pos = 0; pos < sh->nslots; pos++) {
    macho__slot s = sh->index[pos];
    if (s.id == MACHO__NIL) continue;
    occupied++;
    assert_true(f->in_index[s.id]);
    assert_int_equal(s.tag, (uint32_t)f->entries[s.id].hash);
    for (uint32_t p = macho__fastrange32(s.tag, sh->nslots); p != pos; p = (p + 1) % sh->nslots)
      assert_int_not_equal(sh->index[p].id, MACHO__NIL);
  }
  for (uint32_t id = 0; id < N; id++) {
    uint32_t got = macho__index_find_bytes(sh, f->entries[id].hash, &f->keys[id], sizeof(uint64_t));
    if (f->in_index[id]) {
      expected++;
      assert_int_equal(got, id);
    } else {
      assert_int_equal(got, MACHO__NIL);
    }
  }
  assert_int_equal(occupied, expected);
}

/* Tags that all map to `homes` distinct home slots; with wrap, some map to
 * the last slot so the cluster runs over the end of the array. */
static uint32_t clustered_tag(uint64_t *rng, uint32_t homes, bool wrap) {
  uint32_t which = (uint32_t)(test_rand(rng) % homes);
  uint32_t base = wrap && which == 0 ? UINT32_MAX - 1000u : which * 7919u;
  return base + (uint32_t)(test_rand(rng) % 16);
}

static void run_cluster_scenario(uint32_t homes, bool wrap) {
  uint64_t rng = test_seed() ^ (homes * 31u + wrap);
  fake_shard *f = fake_new();
  for (uint32_t id = 0; id < N; id++) f->entries[id].hash = hash_with_tag(id, clustered_tag(&rng, homes, wrap));
  /* Insert all, then alternate random removals and re-insertions. */
  for (uint32_t id = 0; id < N; id++) {
    macho__index_insert(&f->sh, f->entries[id].hash, id);
    f->in_index[id] = true;
  }
  check_index(f);
  for (int step = 0; step < 3000; step++) {
    uint32_t id = (uint32_t)(test_rand(&rng) % N);
    uint64_t v0 = f->sh.version;
    if (f->in_index[id]) {
      macho__index_remove(&f->sh, f->entries[id].hash, id);
      f->in_index[id] = false;
    } else {
      macho__index_insert(&f->sh, f->entries[id].hash, id);
      f->in_index[id] = true;
    }
    assert_true(f->sh.version > v0); /* object-mode lookups rely on this */
    if (step % 50 == 0 || step > 2980) check_index(f);
  }
  /* Remove everything: the index must end empty. */
  for (uint32_t id = 0; id < N; id++)
    if (f->in_index[id]) {
      macho__index_remove(&f->sh, f->entries[id].hash, id);
      f->in_index[id] = false;
    }
  check_index(f);
  fake_free(f);
}

static void index_finds_what_was_inserted_and_not_what_was_removed(void **state) {
  (void)state;
  run_cluster_scenario(N, false); /* spread out: short clusters */
}

static void backward_shift_keeps_one_long_cluster_searchable(void **state) {
  (void)state;
  run_cluster_scenario(1, false);
}

static void backward_shift_keeps_clusters_that_wrap_around_searchable(void **state) {
  (void)state;
  run_cluster_scenario(2, true);
  run_cluster_scenario(5, true);
}

static void lookup_compares_the_key_not_only_the_hash(void **state) {
  (void)state;
  fake_shard *f = fake_new();
  f->entries[0].hash = f->entries[1].hash = 0xabcdef0123ULL; /* full 64-bit collision */
  macho__index_insert(&f->sh, f->entries[0].hash, 0);
  f->in_index[0] = true;
  assert_int_equal(macho__index_find_bytes(&f->sh, f->entries[1].hash, &f->keys[1], 8), MACHO__NIL);
  assert_int_equal(macho__index_find_bytes(&f->sh, f->entries[0].hash, &f->keys[0], 8), 0);
  /* A shorter key with the same prefix is a different key. */
  assert_int_equal(macho__index_find_bytes(&f->sh, f->entries[0].hash, &f->keys[0], 4), MACHO__NIL);
  fake_free(f);
}

static void resize_keeps_every_entry_findable(void **state) {
  (void)state;
  uint64_t rng = test_seed() ^ 77;
  fake_shard *f = fake_new();
  for (uint32_t id = 0; id < N; id += 2) {
    f->entries[id].hash = hash_with_tag(id, (uint32_t)test_rand(&rng));
    macho__index_insert(&f->sh, f->entries[id].hash, id);
    f->in_index[id] = true;
  }
  uint32_t before = f->sh.nslots;
  assert_int_equal(macho__index_resize(&f->sh, 2 * N), MACHO_OK);
  assert_int_equal(f->sh.nslots, macho__index_slots_for(2 * N));
  assert_true(f->sh.nslots > before);
  check_index(f);
  fake_free(f);
}

static void index_keeps_one_empty_slot_and_a_load_of_at_most_two_thirds(void **state) {
  (void)state;
  for (uint32_t cap = 1; cap < 5000; cap = cap * 3 + 1) {
    uint32_t n = macho__index_slots_for(cap);
    assert_true(n > cap);
    assert_true((uint64_t)cap * 3 <= (uint64_t)n * 2);
  }
}

/* ---- slab growth through the public API ---------------------------------- */

static void slab_doubles_up_to_capacity_and_keeps_every_key(void **state) {
  (void)state;
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = 5000;
  cfg.ttl_seconds = 0;
  macho_cache *c;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  macho__shard *sh = &c->shards[0];
  assert_int_equal(sh->slab_cap, 1024);
  uint32_t seen_caps[8], nseen = 0;
  for (uint64_t k = 0; k < 5000; k++) {
    uint64_t v = k * 3;
    assert_int_equal(macho_put(c, &k, sizeof k, &v, sizeof v), MACHO_OK);
    if (nseen == 0 || seen_caps[nseen - 1] != sh->slab_cap) seen_caps[nseen++] = sh->slab_cap;
    assert_true(sh->slab_cap >= sh->len);
  }
  /* 1024 -> 2048 -> 4096 -> 5000 (the last step stops at the capacity). */
  assert_int_equal(nseen, 4);
  assert_int_equal(seen_caps[1], 2048);
  assert_int_equal(seen_caps[2], 4096);
  assert_int_equal(seen_caps[3], 5000);
  assert_int_equal(sh->nslots, macho__index_slots_for(5000));
  assert_int_equal(macho_len(c), 5000);
  for (uint64_t k = 0; k < 5000; k++) {
    uint64_t v = 0;
    size_t n = 0;
    assert_int_equal(macho_get(c, &k, sizeof k, &v, sizeof v, &n), MACHO_OK);
    assert_int_equal(n, sizeof v);
    assert_int_equal(v, k * 3);
  }
  macho_counters ct;
  assert_int_equal(macho_counters_get(c, -1, &ct), MACHO_OK);
  assert_int_equal(ct.evictions, 0);
  /* One more key now evicts instead of growing. */
  uint64_t k = 99999, v = 1;
  assert_int_equal(macho_put(c, &k, sizeof k, &v, sizeof v), MACHO_OK);
  assert_int_equal(sh->slab_cap, 5000);
  assert_int_equal(macho_len(c), 5000);
  assert_int_equal(macho_counters_get(c, -1, &ct), MACHO_OK);
  assert_int_equal(ct.evictions, 1);
  macho_close(c);
}

static void small_capacity_allocates_a_small_slab(void **state) {
  (void)state;
  macho_config cfg;
  macho_config_init(&cfg);
  cfg.capacity_entries = 10;
  cfg.shards = 3;
  macho_cache *c;
  assert_int_equal(macho_open(&cfg, &c), MACHO_OK);
  assert_int_equal(c->shards[0].slab_cap, 4);
  assert_int_equal(c->shards[1].slab_cap, 3);
  assert_int_equal(c->shards[2].slab_cap, 3);
  macho_close(c);
}

int main(void) {
  test_seed();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(index_finds_what_was_inserted_and_not_what_was_removed),
      cmocka_unit_test(backward_shift_keeps_one_long_cluster_searchable),
      cmocka_unit_test(backward_shift_keeps_clusters_that_wrap_around_searchable),
      cmocka_unit_test(lookup_compares_the_key_not_only_the_hash),
      cmocka_unit_test(resize_keeps_every_entry_findable),
      cmocka_unit_test(index_keeps_one_empty_slot_and_a_load_of_at_most_two_thirds),
      cmocka_unit_test(slab_doubles_up_to_capacity_and_keeps_every_key),
      cmocka_unit_test(small_capacity_allocates_a_small_slab),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
