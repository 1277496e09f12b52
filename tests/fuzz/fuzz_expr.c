/* Fuzzes the screens' condition language (analytics/expr.h), which comes from the
 * configuration (pipeline.jobs.<name>.condition). Checks what the parser promises: it either
 * fails with MD_EPARAM and a message naming a column, or yields a condition whose canonical
 * form parses again to the same canonical form, with at most MD_EXPR_MAX_TERMS terms, each a
 * field or a valid indicator output; evaluating it on any values gives true, false or
 * unknown. The stack stays bounded for any nesting (MD_EXPR_MAX_DEPTH). */
#include "analytics/expr.h"
#include "core/error.h"
#include "core/mem.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    md_expr *e = NULL;
    md_error err;
    err.msg[0] = 0;
    int rc = md_expr_parse(text, &e, &err);
    if (rc) {
        md_assert(rc == MD_EPARAM && err.rc == rc && err.msg[0], "rc %d without an error", rc);
        md_assert(e == NULL, "a failed parse returned a condition");
        free(text);
        return 0;
    }
    const md_expr_term *t;
    size_t n = md_expr_terms(e, &t);
    md_assert(n <= MD_EXPR_MAX_TERMS, "%zu terms", n);
    double vals[MD_EXPR_MAX_TERMS];
    for (size_t i = 0; i < n; i++) {
        md_assert(t[i].is_field || (t[i].spec.def && t[i].output < t[i].spec.def->noutputs),
                  "term %zu is neither a field nor an output", i);
        vals[i] = i % 3 == 0 ? NAN : (double)(data[i % size] % 7) - 3;
    }
    int v = md_expr_eval(e, vals);
    md_assert(v == 1 || v == 0 || v == -1, "eval gave %d", v);
    md_buf a = MD_BUF_INIT, b = MD_BUF_INIT;
    md_expr_render(e, &a);
    md_expr *e2 = NULL;
    rc = md_expr_parse(a.data, &e2, &err);
    /* the canonical form adds parentheses: it may exceed the length or nesting bounds of a
     * condition that was within them; otherwise it must parse to itself */
    if (rc == 0) {
        md_expr_render(e2, &b);
        md_assert(strcmp(a.data, b.data) == 0, "canonical form is not stable: %s -> %s", a.data,
                  b.data);
        md_assert(md_expr_eval(e2, vals) == v, "the canonical form evaluates differently");
        md_expr_free(e2);
    } else {
        md_assert(strstr(err.msg, "longer than") || strstr(err.msg, "nested too deeply") ||
                      strstr(err.msg, "too long"),
                  "canonical form '%s' does not parse: %s", a.data, err.msg);
    }
    md_buf_deinit(&a);
    md_buf_deinit(&b);
    md_expr_free(e);
    free(text);
    return 0;
}
