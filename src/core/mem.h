/* mem.h - allocation that never returns NULL.
 *
 * A market data server cannot limp on without memory: allocation failure aborts with a
 * message. Tests may install a hook that makes chosen allocations fail (fault injection);
 * md_try_malloc() is for the rare caller that can recover (large optional buffers). */
#ifndef MD_CORE_MEM_H
#define MD_CORE_MEM_H

#include <stddef.h>

void *md_malloc(size_t n);              /* aborts on failure */
void *md_calloc(size_t n, size_t size); /* aborts on failure or overflow */
void *md_realloc(void *p, size_t n);    /* aborts on failure */
char *md_strdup(const char *s);         /* NULL in, NULL out */
char *md_strndup(const char *s, size_t n);
void *md_try_malloc(size_t n); /* NULL on failure (or injected failure) */
void md_free(void *p);

/* Test hook: when set and it returns nonzero, md_try_malloc fails. */
extern int (*md_mem_fail_hook)(size_t n);

#define MD_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
