/* json.h - members of a JSON object written into an md_buf: `,"key":value`.
 *
 * Every edge writes its objects by hand into an md_buf (REST bodies, stream frames, the
 * relay's wire form, catalogues): the member helpers below are the one way to write a
 * key and its value, so a number is always md_buf_num's round-trip form (null for NaN),
 * a string always escaped, a timestamp always quoted RFC 3339.
 *
 * Each writes a comma first: an object opens with its first member written with the
 * brace ("{\"type\":\"quote\"", "{\"hits\":"), and every member after it comes from here.
 * key is a literal name: it is written as given, not escaped. No I/O, no allocation
 * besides the buffer's growth. */
#ifndef MD_CORE_JSON_H
#define MD_CORE_JSON_H

#include "core/buf.h"

#include <stdint.h>

/* ,"key": (the value follows: an object, an array, a literal). */
void md_json_key(md_buf *b, const char *key);
/* ,"key":<number> in md_buf_num's form; null for NaN or an infinity. */
void md_json_num(md_buf *b, const char *key, double v);
/* As md_json_num, but nothing at all (no key) for NaN: an optional field left out. */
void md_json_num_opt(md_buf *b, const char *key, double v);
/* ,"key":<integer> */
void md_json_int(md_buf *b, const char *key, int64_t v);
/* ,"key":"<s escaped>" (md_buf_json_str: NULL writes ""). */
void md_json_str(md_buf *b, const char *key, const char *s);
/* ,"key":"2024-03-01T14:30:00Z" */
void md_json_ts(md_buf *b, const char *key, int64_t ts);
/* ,"key":true or ,"key":false */
void md_json_bool(md_buf *b, const char *key, int v);

#endif
