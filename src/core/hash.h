/* hash.h - the one string and byte hash of the tree: 64-bit FNV-1a.
 *
 * Hash tables (core/dict.h), the L1 cache's stripes, the source manager's "last fetched"
 * marks, backfill job ids and migrate's checksums all hash through these functions.
 *
 * The seed is NOT the published FNV-1a offset basis (14695981039346656037): every copy this
 * code grew from started at 1469598103934665603, the published value with its last digit
 * dropped. FNV's mixing does not depend on the seed, and values computed with it are
 * persisted - `fetch-<hash>` backfill job ids that a rerun of `mdagent fetch` resumes,
 * migrate's source identity and its checksums compared between two stores - so it must
 * stay as it is. Not a cryptographic hash: never use it where an outsider picks the keys
 * to attack a table's worst case. */
#ifndef MD_CORE_HASH_H
#define MD_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define MD_HASH_SEED 1469598103934665603ULL
#define MD_HASH_PRIME 1099511628211ULL /* the FNV-1a 64-bit prime */

/* Continues hash h over n bytes at p: md_hash_more(md_hash_more(MD_HASH_SEED, a, na), b, nb)
 * equals the hash of a and b concatenated, which is how records of several fields are
 * hashed without copying them into one buffer. */
static inline uint64_t md_hash_more(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * MD_HASH_PRIME;
    return h;
}

/* The hash of n bytes at p. */
static inline uint64_t md_hash_bytes(const void *p, size_t n)
{
    return md_hash_more(MD_HASH_SEED, p, n);
}

/* The hash of a NUL-terminated string (its bytes, without the NUL): equals
 * md_hash_bytes(s, strlen(s)) in one pass. */
static inline uint64_t md_hash_str(const char *s)
{
    uint64_t h = MD_HASH_SEED;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * MD_HASH_PRIME;
    return h;
}

#endif
