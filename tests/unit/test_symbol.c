/* Symbol validation and normalisation (core/symbol). */
#include "core/symbol.h"

#include <criterion/criterion.h>

Test(symbol, normalises_to_upper_case)
{
    const char *in[] = {"brk.b", "^gspc", "eurusd=x", "btc-usd", "EUR/USD", "a_b", "X"};
    const char *want[] = {"BRK.B", "^GSPC", "EURUSD=X", "BTC-USD", "EUR/USD", "A_B", "X"};
    for (int i = 0; i < 7; i++) {
        char out[MD_SYMBOL_MAX + 1];
        cr_assert_eq(md_symbol_normalize_str(in[i], out, NULL), 0, "%s", in[i]);
        cr_assert_str_eq(out, want[i]);
    }
}

Test(symbol, length_limits)
{
    char out[MD_SYMBOL_MAX + 1];
    cr_assert_eq(md_symbol_normalize_str("ABCDEFGHIJKLMNOPQRST", out, NULL), 0);
    md_error err;
    cr_assert_eq(md_symbol_normalize_str("ABCDEFGHIJKLMNOPQRSTU", out, &err), MD_ESYMBOL);
    cr_assert(strstr(err.msg, "longer than 20") != NULL);
    cr_assert_eq(md_symbol_normalize_str("", out, &err), MD_ESYMBOL);
}

Test(symbol, rejects_other_characters)
{
    const char *bad[] = {"A B", "A;B", "A'B", "A\"B", "<script>", "A\nB", "Ä", "A%B", "A*"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char out[MD_SYMBOL_MAX + 1];
        md_error err;
        cr_assert_eq(md_symbol_normalize_str(bad[i], out, &err), MD_ESYMBOL, "%s", bad[i]);
        cr_assert_eq(md_error_http_status(err.rc), 400);
        cr_assert_str_eq(md_error_code(err.rc), "invalid_symbol");
    }
}
