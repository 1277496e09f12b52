/* dict.h - a hash table from byte-string keys to fixed-size values, in caller storage.
 *
 * Each entry is one node, allocated when its key is first put: the value (val_size bytes,
 * zero-filled, aligned for any type) followed by a copy of the key and a NUL. A value keeps
 * its address until its entry is removed or the dict is cleared or freed, so callers may
 * hold pointers to values (the stream hub's subscriptions point at their topic). Lookups
 * allocate nothing and do not write the dict.
 *
 *   slots[cap]: (hash, node) | empty | tombstone      linear probing from hash's home slot
 *   node:       [hash, klen][value: val_size bytes][key: klen bytes, NUL]
 *
 * A removal leaves a tombstone (later puts reuse it, walks skip it); when live entries and
 * tombstones reach half the slots, a put rebuilds the slot array - twice as large when
 * more than a quarter of the slots hold live entries, the same size otherwise - which
 * drops every tombstone. Keys are bytes: a C string is its bytes without the NUL (the _str
 * functions), a fixed-size key its sizeof. The hash is md_hash_bytes (core/hash.h).
 *
 * Not thread-safe: a dict belongs to one thread or is guarded by its owner's lock, held
 * for every call, lookups included (a lookup races with a put that rebuilds the slots).
 * No global state: dicts are independent of each other.
 *
 * Walking: `size_t at = 0; for (T *v; (v = md_dict_next(d, &at));) ...` visits every entry
 * once, in no particular order. Removing entries during a walk is allowed (the current
 * one included); putting a new key is not (a rebuild reorders the slots). */
#ifndef MD_CORE_DICT_H
#define MD_CORE_DICT_H

#include <stddef.h>
#include <string.h>

typedef struct md_dict {
    struct md_dict__slot *slots;
    size_t cap;      /* slots: a power of two, 0 until the first put */
    size_t n;        /* live entries */
    size_t used;     /* live entries + tombstones */
    size_t val_size; /* bytes of each value (0: a set) */
} md_dict;

/* An empty dict whose values are val_size bytes. Allocates nothing. */
void md_dict_init(md_dict *d, size_t val_size);
/* Frees every entry and the slots; d is empty afterwards and may be used again. The dict
 * does not know what a value owns: walk it first to release that. */
void md_dict_deinit(md_dict *d);
/* Removes every entry (freeing their nodes), keeping the slot array for reuse. */
void md_dict_clear(md_dict *d);

/* Live entries. */
static inline size_t md_dict_count(const md_dict *d)
{
    return d->n;
}

/* The value stored under the key, or NULL. */
void *md_dict_find(const md_dict *d, const void *key, size_t klen);
/* Insert-or-get: the value stored under the key; when the key is new, a zero-filled value
 * is added and *created (when not NULL) set to 1, else 0. Never NULL (allocation failure
 * aborts, core/mem.h). */
void *md_dict_put(md_dict *d, const void *key, size_t klen, int *created);
/* Removes the key's entry; 1 when there was one, 0 otherwise. */
int md_dict_remove(md_dict *d, const void *key, size_t klen);
/* Removes the entry whose value is val (a pointer md_dict_find/put/next returned for d,
 * not removed since): no key comparison, for callers that hold the value. */
void md_dict_remove_value(md_dict *d, void *val);

/* The key of the entry whose value is val; *klen (when not NULL) receives its length. The
 * key is NUL-terminated (a string key reads back as a C string) and lives as long as the
 * entry. */
const char *md_dict_key(const md_dict *d, const void *val, size_t *klen);

/* The next entry's value from *cursor on (start at 0), advancing the cursor; NULL when
 * there is none left. */
void *md_dict_next(const md_dict *d, size_t *cursor);

/* String keys: the string's bytes without its NUL. */
static inline void *md_dict_find_str(const md_dict *d, const char *key)
{
    return md_dict_find(d, key, strlen(key));
}

static inline void *md_dict_put_str(md_dict *d, const char *key, int *created)
{
    return md_dict_put(d, key, strlen(key), created);
}

static inline int md_dict_remove_str(md_dict *d, const char *key)
{
    return md_dict_remove(d, key, strlen(key));
}

#endif
