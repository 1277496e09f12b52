/* JSON object members (core/json.h), read back by jansson: what the edges write must be
 * JSON a client's parser takes, with the values written. */
#include "core/json.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

/* Closes the object in b and parses it; fails the test when jansson refuses it. */
static json_t *parse(md_buf *b)
{
    md_buf_putc(b, '}');
    json_error_t je;
    json_t *o = json_loadb(b->data, b->len, JSON_REJECT_DUPLICATES, &je);
    cr_assert_not_null(o, "%s: %s", b->data, je.text);
    cr_assert(json_is_object(o), "%s", b->data);
    return o;
}

Test(json, members_after_the_first_parse_back_with_their_values)
{
    md_buf b = MD_BUF_INIT;
    md_buf_puts(&b, "{\"type\":\"quote\"");
    md_json_num(&b, "price", 63.4375);
    md_json_int(&b, "seq", -9007199254740993LL);
    md_json_str(&b, "symbol", "BRK.B");
    md_json_ts(&b, "timestamp", 1709303400);
    md_json_bool(&b, "live", 7);
    md_json_bool(&b, "stale", 0);
    json_t *o = parse(&b);
    cr_assert_str_eq(json_string_value(json_object_get(o, "type")), "quote");
    cr_assert_eq(json_real_value(json_object_get(o, "price")), 63.4375);
    cr_assert_eq(json_integer_value(json_object_get(o, "seq")), -9007199254740993LL);
    cr_assert_str_eq(json_string_value(json_object_get(o, "symbol")), "BRK.B");
    cr_assert_str_eq(json_string_value(json_object_get(o, "timestamp")), "2024-03-01T14:30:00Z");
    cr_assert(json_is_true(json_object_get(o, "live")));
    cr_assert(json_is_false(json_object_get(o, "stale")));
    cr_assert_eq(json_object_size(o), 7);
    json_decref(o);
    md_buf_deinit(&b);
}

Test(json, a_missing_number_is_null_or_left_out)
{
    md_buf b = MD_BUF_INIT;
    md_buf_puts(&b, "{\"k\":0");
    md_json_num(&b, "vwap", NAN);
    md_json_num(&b, "high", INFINITY);
    md_json_num_opt(&b, "bid", NAN);
    md_json_num_opt(&b, "ask", 0.1);
    json_t *o = parse(&b);
    cr_assert(json_is_null(json_object_get(o, "vwap")));
    cr_assert(json_is_null(json_object_get(o, "high")));
    cr_assert_null(json_object_get(o, "bid"), "an optional NaN writes no key: %s", b.data);
    cr_assert_eq(json_real_value(json_object_get(o, "ask")), 0.1);
    json_decref(o);
    md_buf_deinit(&b);
}

Test(json, strings_are_escaped_and_a_null_string_is_empty)
{
    md_buf b = MD_BUF_INIT;
    md_buf_puts(&b, "{\"k\":0");
    md_json_str(&b, "message", "say \"hi\"\\\n\x01 \xff");
    md_json_str(&b, "none", NULL);
    json_t *o = parse(&b);
    cr_assert_str_eq(json_string_value(json_object_get(o, "message")),
                     "say \"hi\"\\\n\x01 \xef\xbf\xbd");
    cr_assert_str_eq(json_string_value(json_object_get(o, "none")), "");
    json_decref(o);
    md_buf_deinit(&b);
}

Test(json, a_key_takes_any_value_after_it)
{
    md_buf b = MD_BUF_INIT;
    md_buf_puts(&b, "{\"k\":0");
    md_json_key(&b, "limits");
    md_buf_puts(&b, "{\"max\":1");
    md_json_int(&b, "min", 0);
    md_buf_putc(&b, '}');
    md_json_key(&b, "list");
    md_buf_puts(&b, "[]");
    json_t *o = parse(&b);
    cr_assert_str_eq(b.data, "{\"k\":0,\"limits\":{\"max\":1,\"min\":0},\"list\":[]}");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(o, "limits"), "min")), 0);
    json_decref(o);
    md_buf_deinit(&b);
}
