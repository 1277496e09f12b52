/* dict.c - open-addressing hash table (see dict.h for the layout and the rules). */
#include "core/dict.h"

#include "core/hash.h"
#include "core/mem.h"

#include <assert.h>
#include <stdalign.h>
#include <stdint.h>

#define MIN_CAP 16

typedef struct node {
    uint64_t hash;
    size_t klen;
} node;

/* Values start here in a node: aligned like malloc's memory, so any type fits. */
#define VAL_OFF ((sizeof(node) + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1))

struct md_dict__slot {
    uint64_t hash;
    node *n; /* NULL: empty; TOMB: removed */
};

/* The tombstone marker: an address no node can have (never written). */
static const node tomb;
#define TOMB ((node *)&tomb)

static void *val_of(node *n)
{
    return (char *)n + VAL_OFF;
}

static node *node_of(const void *val)
{
    return (node *)((char *)val - VAL_OFF);
}

static const char *key_of(const md_dict *d, node *n)
{
    return (const char *)n + VAL_OFF + d->val_size;
}

/* FNV-1a's low bits depend only on the low bits of every byte; the slot index folds the
 * high half in so keys that differ in their high bits spread too. */
static size_t home(uint64_t h, size_t mask)
{
    return (size_t)(h ^ (h >> 32)) & mask;
}

void md_dict_init(md_dict *d, size_t val_size)
{
    memset(d, 0, sizeof *d);
    d->val_size = val_size;
}

static void free_nodes(md_dict *d)
{
    for (size_t i = 0; i < d->cap; i++)
        if (d->slots[i].n && d->slots[i].n != TOMB) md_free(d->slots[i].n);
}

void md_dict_deinit(md_dict *d)
{
    free_nodes(d);
    md_free(d->slots);
    md_dict_init(d, d->val_size);
}

void md_dict_clear(md_dict *d)
{
    free_nodes(d);
    if (d->cap) memset(d->slots, 0, d->cap * sizeof *d->slots);
    d->n = d->used = 0;
}

/* The slot holding the key, or NULL; *free_slot (when not NULL) receives the first
 * tombstone or empty slot of the probe, where the key would go. */
static struct md_dict__slot *probe(const md_dict *d, const void *key, size_t klen, uint64_t h,
                                   struct md_dict__slot **free_slot)
{
    struct md_dict__slot *first_free = NULL;
    size_t mask = d->cap - 1;
    /* ends: the load stays at most 1/2, so there is always an empty slot */
    for (size_t i = home(h, mask);; i = (i + 1) & mask) {
        struct md_dict__slot *s = &d->slots[i];
        if (!s->n) {
            if (free_slot) *free_slot = first_free ? first_free : s;
            return NULL;
        }
        if (s->n == TOMB) {
            if (!first_free) first_free = s;
            continue;
        }
        if (s->hash == h && s->n->klen == klen && memcmp(key_of(d, s->n), key, klen) == 0) return s;
    }
}

void *md_dict_find(const md_dict *d, const void *key, size_t klen)
{
    if (!d->n) return NULL;
    struct md_dict__slot *s = probe(d, key, klen, md_hash_bytes(key, klen), NULL);
    return s ? val_of(s->n) : NULL;
}

/* Rebuilds the slots (dropping tombstones) with room for one more entry. */
static void rebuild(md_dict *d)
{
    size_t cap = d->cap ? d->cap : MIN_CAP;
    if ((d->n + 1) * 4 > cap) cap *= 2;
    struct md_dict__slot *old = d->slots;
    size_t old_cap = d->cap;
    d->slots = md_calloc(cap, sizeof *d->slots);
    d->cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        node *n = old[i].n;
        if (!n || n == TOMB) continue;
        size_t j = home(n->hash, cap - 1);
        while (d->slots[j].n) j = (j + 1) & (cap - 1);
        d->slots[j] = (struct md_dict__slot){n->hash, n};
    }
    d->used = d->n;
    md_free(old);
}

void *md_dict_put(md_dict *d, const void *key, size_t klen, int *created)
{
    uint64_t h = md_hash_bytes(key, klen);
    struct md_dict__slot *s = NULL, *dst = NULL;
    if (d->cap) s = probe(d, key, klen, h, &dst);
    if (s) {
        if (created) *created = 0;
        return val_of(s->n);
    }
    if (!dst || (dst->n != TOMB && (d->used + 1) * 2 > d->cap)) {
        rebuild(d);
        probe(d, key, klen, h, &dst);
    }
    node *n = md_malloc(VAL_OFF + d->val_size + klen + 1);
    n->hash = h;
    n->klen = klen;
    memset(val_of(n), 0, d->val_size);
    char *k = (char *)key_of(d, n);
    if (klen) memcpy(k, key, klen);
    k[klen] = 0;
    if (dst->n != TOMB) d->used++;
    *dst = (struct md_dict__slot){h, n};
    d->n++;
    if (created) *created = 1;
    return val_of(n);
}

static void remove_slot(md_dict *d, struct md_dict__slot *s)
{
    md_free(s->n);
    s->n = TOMB;
    d->n--;
}

int md_dict_remove(md_dict *d, const void *key, size_t klen)
{
    if (!d->n) return 0;
    struct md_dict__slot *s = probe(d, key, klen, md_hash_bytes(key, klen), NULL);
    if (!s) return 0;
    remove_slot(d, s);
    return 1;
}

void md_dict_remove_value(md_dict *d, void *val)
{
    node *n = node_of(val);
    size_t mask = d->cap - 1;
    for (size_t i = home(n->hash, mask); d->slots[i].n; i = (i + 1) & mask) {
        if (d->slots[i].n == n) {
            remove_slot(d, &d->slots[i]);
            return;
        }
    }
    assert(!"md_dict_remove_value: not a value of this dict");
}

const char *md_dict_key(const md_dict *d, const void *val, size_t *klen)
{
    node *n = node_of(val);
    if (klen) *klen = n->klen;
    return key_of(d, n);
}

void *md_dict_next(const md_dict *d, size_t *cursor)
{
    for (size_t i = *cursor; i < d->cap; i++) {
        node *n = d->slots[i].n;
        if (n && n != TOMB) {
            *cursor = i + 1;
            return val_of(n);
        }
    }
    *cursor = d->cap;
    return NULL;
}
