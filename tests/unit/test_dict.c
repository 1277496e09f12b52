/* core/hash.h and core/dict.h: the hash's values (published FNV-1a vectors, and the ids
 * persisted with the tree's own seed), the dict's contract (insert-or-get, stable values,
 * growth, tombstones, walks that remove) and a long random run against a naive table. */
#include "core/dict.h"
#include "core/hash.h"
#include "ingest/backfill.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -- hash ------------------------------------------------------------------------------------ */

#define FNV1A64_OFFSET 14695981039346656037ULL /* the published offset basis */

Test(hash, is_fnv1a_with_the_published_vectors)
{
    /* test vectors from the FNV reference (isthe.com/chongo/tech/comp/fnv) */
    cr_assert_eq(md_hash_more(FNV1A64_OFFSET, "", 0), 0xcbf29ce484222325ULL);
    cr_assert_eq(md_hash_more(FNV1A64_OFFSET, "a", 1), 0xaf63dc4c8601ec8cULL);
    cr_assert_eq(md_hash_more(FNV1A64_OFFSET, "foobar", 6), 0x85944171f73967e8ULL);
}

Test(hash, keeps_the_seed_persisted_values_were_made_with)
{
    /* expected values from a Python FNV-1a loop seeded with 1469598103934665603 */
    cr_assert_eq(md_hash_bytes("", 0), 0x14650fb0739d0383ULL);
    cr_assert_eq(md_hash_str("a"), 0x44bd8ad473cd9906ULL);
    cr_assert_eq(md_hash_str("AAPL"), 0xc41c6baefda9bdf9ULL);
    cr_assert_eq(md_hash_bytes("foobar", 6), 0x88fad7c0a8ff07f2ULL);
}

Test(hash, string_bytes_and_continuation_agree)
{
    const char *s = "BRK.B\nquote";
    cr_assert_eq(md_hash_str(s), md_hash_bytes(s, strlen(s)));
    cr_assert_eq(md_hash_more(md_hash_bytes(s, 5), s + 5, strlen(s) - 5), md_hash_str(s));
}

Test(hash, backfill_job_ids_of_fetch_commands_do_not_change)
{
    /* `mdagent fetch` resumes an unfinished job by this id; a new hash would orphan it.
     * Expected: the same Python loop over the spec's bytes (symbols with their NULs, iv as
     * int32, start and end as int64, source as int32, little-endian). */
    const char *syms[] = {"AAPL", "MSFT"};
    md_job_spec sp = {syms, 2, MD_IV_1D, 1700000000, 1700086400, -1};
    char id[MD_JOB_ID_MAX];
    md_backfill_spec_id(&sp, id);
    cr_assert_str_eq(id, "fetch-a08c352c7022a05e");
}

/* -- dict: contract ------------------------------------------------------------------------- */

typedef struct {
    int64_t a;
    double b;
} pair;

Test(dict, put_is_insert_or_get_and_new_values_are_zero)
{
    md_dict d;
    md_dict_init(&d, sizeof(pair));
    cr_assert_null(md_dict_find_str(&d, "AAPL"));
    int created = -1;
    pair *p = md_dict_put_str(&d, "AAPL", &created);
    cr_assert_eq(created, 1);
    cr_assert_eq(p->a, 0);
    cr_assert_eq(p->b, 0.0);
    cr_assert_eq((uintptr_t)p % _Alignof(max_align_t), 0);
    p->a = 42;
    pair *q = md_dict_put_str(&d, "AAPL", &created);
    cr_assert_eq(created, 0);
    cr_assert_eq(q, p);
    cr_assert_eq(((pair *)md_dict_find_str(&d, "AAPL"))->a, 42);
    cr_assert_null(md_dict_find_str(&d, "AAP"));
    cr_assert_null(md_dict_find_str(&d, "AAPLX"));
    cr_assert_eq(md_dict_count(&d), 1);
    size_t kl = 0;
    cr_assert_str_eq(md_dict_key(&d, p, &kl), "AAPL");
    cr_assert_eq(kl, 4);
    md_dict_deinit(&d);
    cr_assert_eq(md_dict_count(&d), 0);
    cr_assert_null(md_dict_find_str(&d, "AAPL"));
    /* usable again after deinit */
    *(pair *)md_dict_put_str(&d, "MSFT", NULL) = (pair){1, 2};
    cr_assert_eq(((pair *)md_dict_find_str(&d, "MSFT"))->a, 1);
    md_dict_deinit(&d);
}

Test(dict, byte_keys_with_zeros_and_the_empty_key_are_distinct)
{
    md_dict d;
    md_dict_init(&d, sizeof(int));
    const char k1[] = {'A', 0, 1}, k2[] = {'A', 0, 2};
    *(int *)md_dict_put(&d, k1, 3, NULL) = 1;
    *(int *)md_dict_put(&d, k2, 3, NULL) = 2;
    *(int *)md_dict_put(&d, "A", 1, NULL) = 3;
    *(int *)md_dict_put(&d, "", 0, NULL) = 4;
    cr_assert_eq(md_dict_count(&d), 4);
    cr_assert_eq(*(int *)md_dict_find(&d, k1, 3), 1);
    cr_assert_eq(*(int *)md_dict_find(&d, k2, 3), 2);
    cr_assert_eq(*(int *)md_dict_find_str(&d, "A"), 3);
    cr_assert_eq(*(int *)md_dict_find(&d, "", 0), 4);
    size_t kl;
    const char *k = md_dict_key(&d, md_dict_find(&d, k2, 3), &kl);
    cr_assert_eq(kl, 3);
    cr_assert_eq(memcmp(k, k2, 3), 0);
    cr_assert_eq(k[3], 0);
    md_dict_deinit(&d);
}

Test(dict, a_set_has_no_value_bytes)
{
    md_dict d;
    md_dict_init(&d, 0);
    int created;
    cr_assert_not_null(md_dict_put_str(&d, "x", &created));
    cr_assert_eq(created, 1);
    md_dict_put_str(&d, "x", &created);
    cr_assert_eq(created, 0);
    cr_assert_str_eq(md_dict_key(&d, md_dict_find_str(&d, "x"), NULL), "x");
    cr_assert_eq(md_dict_remove_str(&d, "x"), 1);
    cr_assert_eq(md_dict_remove_str(&d, "x"), 0);
    md_dict_deinit(&d);
}

Test(dict, grows_and_values_keep_their_address)
{
    enum { N = 100000 };
    md_dict d;
    md_dict_init(&d, sizeof(int64_t));
    int64_t **where = malloc(N * sizeof *where);
    char k[32];
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof k, "SYM%d", i);
        where[i] = md_dict_put_str(&d, k, NULL);
        *where[i] = i;
    }
    cr_assert_eq(md_dict_count(&d), N);
    cr_assert_geq(d.cap, 2 * N, "load stays at most 1/2");
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof k, "SYM%d", i);
        int64_t *v = md_dict_find_str(&d, k);
        cr_assert_eq(v, where[i], "%s moved", k);
        cr_assert_eq(*v, i);
    }
    free(where);
    md_dict_deinit(&d);
}

Test(dict, removal_leaves_other_keys_of_the_same_probe_run_findable)
{
    /* a small table: many keys share probe runs, so removals sit in the middle of runs */
    md_dict d;
    md_dict_init(&d, sizeof(int));
    char k[16];
    for (int i = 0; i < 7; i++) {
        snprintf(k, sizeof k, "k%d", i);
        *(int *)md_dict_put_str(&d, k, NULL) = i;
    }
    cr_assert_eq(d.cap, 16);
    for (int i = 0; i < 7; i += 2) {
        snprintf(k, sizeof k, "k%d", i);
        cr_assert_eq(md_dict_remove_str(&d, k), 1);
    }
    for (int i = 0; i < 7; i++) {
        snprintf(k, sizeof k, "k%d", i);
        int *v = md_dict_find_str(&d, k);
        if (i % 2)
            cr_assert(v && *v == i, "%s lost", k);
        else
            cr_assert_null(v, "%s still there", k);
    }
    cr_assert_eq(md_dict_count(&d), 3);
    md_dict_deinit(&d);
}

Test(dict, churn_at_a_steady_size_does_not_grow_the_table)
{
    /* tombstones are reused or dropped by a same-size rebuild, never piled up */
    md_dict d;
    md_dict_init(&d, sizeof(int));
    char k[32];
    for (int i = 0; i < 100; i++) {
        snprintf(k, sizeof k, "live%d", i);
        md_dict_put_str(&d, k, NULL);
    }
    size_t cap = d.cap;
    for (int i = 0; i < 200000; i++) {
        snprintf(k, sizeof k, "tmp%d", i);
        md_dict_put_str(&d, k, NULL);
        cr_assert_eq(md_dict_remove_str(&d, k), 1);
        cr_assert_leq(d.used * 2, d.cap);
    }
    cr_assert_leq(d.cap, cap * 2);
    cr_assert_eq(md_dict_count(&d), 100);
    for (int i = 0; i < 100; i++) {
        snprintf(k, sizeof k, "live%d", i);
        cr_assert_not_null(md_dict_find_str(&d, k));
    }
    md_dict_deinit(&d);
}

/* Walks d and checks it holds exactly the keys "n<i>" for i < n with keep(i), each once,
 * with value i. */
static void walk_matches(md_dict *d, int n, int (*keep)(int))
{
    char *seen = calloc((size_t)n, 1);
    size_t at = 0, visits = 0;
    for (int *v; (v = md_dict_next(d, &at));) {
        int i = *v;
        cr_assert(i >= 0 && i < n && keep(i), "unexpected value %d", i);
        char k[16];
        snprintf(k, sizeof k, "n%d", i);
        cr_assert_str_eq(md_dict_key(d, v, NULL), k);
        cr_assert_eq(seen[i], 0, "%s visited twice", k);
        seen[i] = 1;
        visits++;
    }
    cr_assert_eq(visits, md_dict_count(d));
    for (int i = 0; i < n; i++) cr_assert_eq(seen[i], keep(i) ? 1 : 0, "n%d", i);
    free(seen);
}

static int all(int i)
{
    return 1;
}

static int not_mult_of_3(int i)
{
    return i % 3 != 0;
}

static int odd(int i)
{
    return i % 2 != 0;
}

static int none(int i)
{
    return 0;
}

Test(dict, walks_visit_each_live_entry_once_after_deletes)
{
    md_dict d;
    md_dict_init(&d, sizeof(int));
    char k[16];
    size_t at = 0;
    cr_assert_null(md_dict_next(&d, &at), "empty dict");
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof k, "n%d", i);
        *(int *)md_dict_put_str(&d, k, NULL) = i;
    }
    walk_matches(&d, 1000, all);
    for (int i = 0; i < 1000; i += 3) {
        snprintf(k, sizeof k, "n%d", i);
        md_dict_remove_str(&d, k);
    }
    walk_matches(&d, 1000, not_mult_of_3);
    md_dict_clear(&d);
    walk_matches(&d, 1000, none);
    cr_assert_null(md_dict_find_str(&d, "n1"));
    *(int *)md_dict_put_str(&d, "n1", NULL) = 1;
    cr_assert_eq(md_dict_count(&d), 1);
    md_dict_deinit(&d);
}

Test(dict, removing_the_current_entry_during_a_walk)
{
    md_dict d;
    md_dict_init(&d, sizeof(int));
    char k[16];
    for (int i = 0; i < 500; i++) {
        snprintf(k, sizeof k, "n%d", i);
        *(int *)md_dict_put_str(&d, k, NULL) = i;
    }
    size_t at = 0, visits = 0;
    for (int *v; (v = md_dict_next(&d, &at));) {
        visits++;
        if (*v % 2 == 0) md_dict_remove_value(&d, v);
    }
    cr_assert_eq(visits, 500);
    walk_matches(&d, 500, odd);
    md_dict_deinit(&d);
}

/* -- dict: random operations against a naive table ------------------------------------------ */

#define KEYS 300

typedef struct {
    char key[24];
    size_t len;
    int present;
    uint64_t val;
} ref_entry;

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

Test(dict, random_operations_agree_with_a_naive_table)
{
    ref_entry *ref = calloc(KEYS, sizeof *ref);
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < KEYS; i++) {
        /* binary keys of 2..23 bytes, zeros included; the first two bytes say which */
        ref[i].len = 2 + (size_t)(i % 22);
        ref[i].key[0] = (char)(i & 0xff);
        ref[i].key[1] = (char)(i >> 8);
        for (size_t b = 2; b < ref[i].len; b++) ref[i].key[b] = (char)(rng_next(&rng) % 3);
    }
    md_dict d;
    md_dict_init(&d, sizeof(uint64_t));
    size_t live = 0;
    for (int step = 0; step < 400000; step++) {
        uint64_t r = rng_next(&rng);
        ref_entry *e = &ref[r % KEYS];
        int op = (int)((r >> 32) % 100);
        if (op < 40) { /* put */
            int created = -1;
            uint64_t *v = md_dict_put(&d, e->key, e->len, &created);
            cr_assert_eq(created, !e->present, "step %d", step);
            if (created) {
                cr_assert_eq(*v, 0);
                live++;
            } else {
                cr_assert_eq(*v, e->val, "step %d", step);
            }
            e->present = 1;
            *v = e->val = r;
        } else if (op < 70) { /* find */
            uint64_t *v = md_dict_find(&d, e->key, e->len);
            cr_assert_eq(v != NULL, e->present, "step %d", step);
            if (v) cr_assert_eq(*v, e->val);
        } else if (op < 85) { /* remove by key */
            cr_assert_eq(md_dict_remove(&d, e->key, e->len), e->present, "step %d", step);
            live -= e->present;
            e->present = 0;
        } else if (op < 95) { /* remove by value */
            uint64_t *v = md_dict_find(&d, e->key, e->len);
            if (v) {
                md_dict_remove_value(&d, v);
                e->present = 0;
                live--;
            }
        } else if (op < 96 && (r >> 40) % 64 == 0) { /* now and then: clear */
            md_dict_clear(&d);
            for (int i = 0; i < KEYS; i++) ref[i].present = 0;
            live = 0;
        } else {                          /* walk: exactly the present keys */
            if ((r >> 40) % 16) continue; /* walks are O(capacity): not every time */
            size_t at = 0, seen = 0;
            for (uint64_t *v; (v = md_dict_next(&d, &at));) {
                size_t kl;
                const char *k = md_dict_key(&d, v, &kl);
                int i = (unsigned char)k[0] | (unsigned char)k[1] << 8;
                cr_assert(i < KEYS && ref[i].present && ref[i].len == kl &&
                              memcmp(ref[i].key, k, kl) == 0 && ref[i].val == *v,
                          "step %d: walk found a key the reference does not have", step);
                seen++;
            }
            cr_assert_eq(seen, live, "step %d", step);
        }
        cr_assert_eq(md_dict_count(&d), live, "step %d", step);
        cr_assert_leq(d.used * 2, d.cap);
    }
    md_dict_deinit(&d);
    free(ref);
}
