/* server/contract.c: the data (server/contract.json) covers the tables it documents, and the
 * documents render as JSON with every route of routes.def and every error code. */
#include "server/contract.h"
#include "server/routes.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

Test(contract, the_data_covers_every_route_parameter_error_code_and_channel)
{
    md_error err = {0};
    cr_assert_eq(md_contract_check(&err), 0, "%s", err.msg);
}

Test(contract, openapi_has_every_route_with_its_method_and_key)
{
    md_error err = {0};
    size_t len = 0;
    const char *doc = md_contract_doc(MD_CONTRACT_OPENAPI, &len, &err);
    cr_assert_not_null(doc, "%s", err.msg);
    cr_assert_eq(strlen(doc), len);
    cr_assert_eq(doc[len - 1], '\n');
    json_error_t je;
    json_t *root = json_loads(doc, 0, &je);
    cr_assert_not_null(root, "%s", je.text);
    cr_assert_str_eq(json_string_value(json_object_get(root, "openapi")), "3.1.0");
    json_t *paths = json_object_get(root, "paths");
    size_t n;
    const md_route *rt = md_route_table(&n);
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_object_get(paths, rt[i].pattern);
        cr_assert_not_null(item, "%s", rt[i].pattern);
        const char *m = rt[i].methods & MD_HTTP_POST     ? "post"
                        : rt[i].methods & MD_HTTP_DELETE ? "delete"
                        : rt[i].methods & MD_HTTP_PUT    ? "put"
                                                         : "get";
        json_t *op = json_object_get(item, m);
        cr_assert_not_null(op, "%s %s", m, rt[i].pattern);
        int secured = json_array_size(json_object_get(op, "security")) > 0;
        cr_assert_eq(secured, (rt[i].flags & MD_RT_AUTH) != 0, "%s", rt[i].pattern);
        cr_assert_not_null(json_object_get(json_object_get(op, "responses"), "500"), "%s",
                           rt[i].pattern);
    }
    /* the same text on every call */
    cr_assert_eq(md_contract_doc(MD_CONTRACT_OPENAPI, NULL, &err), doc);
    json_decref(root);
}

Test(contract, asyncapi_lists_the_channels_and_messages)
{
    md_error err = {0};
    const char *doc = md_contract_doc(MD_CONTRACT_ASYNCAPI, NULL, &err);
    cr_assert_not_null(doc, "%s", err.msg);
    json_t *root = json_loads(doc, 0, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(root, "asyncapi")), "3.0.0");
    json_t *ch = json_object_get(root, "channels");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(ch, "bar"), "address")),
                     "bar.{interval}");
    json_t *ivs = json_object_get(
        json_object_get(json_object_get(json_object_get(ch, "bar"), "parameters"), "interval"),
        "enum");
    cr_assert_eq(json_array_size(ivs), 9, "one value per interval (the enum is the table's)");
    cr_assert_not_null(json_object_get(json_object_get(root, "operations"), "sendSubscribe"));
    cr_assert_not_null(json_object_get(json_object_get(root, "operations"), "receiveQuote"));
    json_decref(root);
}
