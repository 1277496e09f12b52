/* providers.h - the HTTP provider clients: their constructors (named in the rows of
 * providers.def, which registry.c expands) and their response parsers, exported so tests (and tools) can run a provider's parser
 * on a saved response without a server.
 *
 * Parsers take one response body and append what it holds to out, oldest first, sorted
 * and deduplicated, each bar aligned as source.h says (intraday bars at their exact start
 * time in UTC; daily bars at 00:00 UTC of the exchange-local trading date; weekly on the
 * Monday, monthly on the 1st). They do not filter by range (the clients do). Errors that
 * arrive inside a 200 body (Alpha Vantage Note/Information/Error Message, Twelve Data
 * status "error", Polygon status "ERROR"/"NOT_AUTHORIZED", Yahoo chart.error) map to the
 * source.h vocabulary; a body that is not the provider's format is MD_EMALFORMED and
 * appends nothing (never half a response). Return: bars appended (>= 0) or MD_E*. */
#ifndef MD_SOURCES_PROVIDERS_H
#define MD_SOURCES_PROVIDERS_H

#include "core/config.h"
#include "sources/source.h"

#include <stddef.h>

/* Constructors: never fail for a missing key (calls then answer MD_EUNAUTHSRC
 * "<name>: not configured: set <KEY_ENV>"). *out is owned by the caller (md_source_free). */
int md_yahoo_create(const md_config *cfg, md_source **out, md_error *err);
int md_alphavantage_create(const md_config *cfg, md_source **out, md_error *err);
int md_finnhub_create(const md_config *cfg, md_source **out, md_error *err);
int md_polygon_create(const md_config *cfg, md_source **out, md_error *err);
int md_twelvedata_create(const md_config *cfg, md_source **out, md_error *err);

/* Yahoo /v8/finance/chart: bars from timestamp[] + indicators.quote[0] (nulls skipped,
 * prices rounded to meta.priceHint decimals, daily stamps moved to the exchange date with
 * meta.exchangeTimezoneName, else meta.gmtoffset; a missing volume array is volume 0).
 * bars and/or quote may be NULL; the quote comes from meta.regularMarketPrice/
 * regularMarketTime, else the last bar with a close (MD_ENOTFOUND with neither). */
int md_yahoo_parse_chart(const char *body, size_t len, md_interval iv, md_bar_vec *bars,
                         md_quote *quote, md_error *err);
/* The same with events (yahoo.c has the conventions): bars made raw again with the answer's
 * splits plus `later` (splits after its range, may be NULL), prices in the major currency
 * unit; actions (may be NULL) receive its splits and dividends (amounts as paid, major unit;
 * symbol left empty). */
int md_yahoo_parse_chart_full(const char *body, size_t len, md_interval iv,
                              const md_action_vec *later, md_bar_vec *bars, md_action_vec *actions,
                              md_error *err);

/* Alpha Vantage TIME_SERIES_INTRADAY/DAILY/WEEKLY/MONTHLY: the "Time Series (...)" object
 * (newest first, keyed by "YYYY-MM-DD[ HH:MM:SS]" in Meta Data's time zone). */
int md_alphavantage_parse_series(const char *body, size_t len, md_interval iv, md_bar_vec *out,
                                 md_error *err);
/* GLOBAL_QUOTE: "05. price", "06. volume", "07. latest trading day" (the quote is stamped
 * 16:00 New York of that day, or now when that is earlier). An empty "Global Quote"
 * object is MD_ENOTFOUND. */
int md_alphavantage_parse_quote(const char *body, size_t len, md_quote *out, md_error *err);

/* Corporate actions answers (dividends 0: the splits endpoint, 1: the dividends one),
 * appended to out in core/action.h's conventions (source set, symbol left empty):
 * Alpha Vantage SPLITS / DIVIDENDS, Finnhub /stock/split / /stock/dividend, Twelve Data
 * /splits / /dividends (each client's file has the shapes). Errors as for bars. */
int md_alphavantage_parse_actions(const char *body, size_t len, int dividends, md_action_vec *out,
                                  md_error *err);
int md_finnhub_parse_actions(const char *body, size_t len, int dividends, md_action_vec *out,
                             md_error *err);
int md_twelvedata_parse_actions(const char *body, size_t len, int dividends, md_action_vec *out,
                                md_error *err);

/* Finnhub /stock/candle: parallel arrays c,h,l,o,t,v with s "ok" ("no_data": 0 bars). */
int md_finnhub_parse_candles(const char *body, size_t len, md_interval iv, md_bar_vec *out,
                             md_error *err);
/* Finnhub /quote: c (price) and t (epoch seconds); all zero means unknown symbol. */
int md_finnhub_parse_quote(const char *body, size_t len, md_quote *out, md_error *err);

/* Polygon /v2/aggs: results[] with t in milliseconds, o,h,l,c,v, optional vw and n.
 * *next_url (may be NULL) receives a heap copy of next_url when present, else NULL. */
int md_polygon_parse_aggs(const char *body, size_t len, md_interval iv, md_bar_vec *out,
                          char **next_url, md_error *err);
/* Polygon /v2/last/trade (results.p, results.t in nanoseconds, results.s) or
 * /v2/aggs/ticker/{T}/prev (results[0].c, .t in milliseconds, .v). */
int md_polygon_parse_last_trade(const char *body, size_t len, md_quote *out, md_error *err);
int md_polygon_parse_prev(const char *body, size_t len, md_quote *out, md_error *err);
/* Polygon /v3/reference/splits (execution_date, split_to new for split_from old) and
 * /v3/reference/dividends (ex_dividend_date, cash_amount, currency, pay_date): actions
 * appended to out (source polygon, symbol left empty); *next_url as for aggs. */
int md_polygon_parse_splits(const char *body, size_t len, md_action_vec *out, char **next_url,
                            md_error *err);
int md_polygon_parse_dividends(const char *body, size_t len, md_action_vec *out, char **next_url,
                               md_error *err);

/* The profile answers that name a symbol's exchange, into ref->exchange ("" when the answer
 * names none): Polygon Ticker Details v3 (results.primary_exchange), Finnhub
 * /stock/profile2 (exchange; {} for an unknown symbol). 0, or MD_EMALFORMED and the
 * providers' own errors as for bars. */
int md_polygon_parse_ticker(const char *body, size_t len, md_source_ref *ref, md_error *err);
int md_finnhub_parse_profile(const char *body, size_t len, md_source_ref *ref, md_error *err);

/* Twelve Data /time_series: values[] newest first, string (or plain) numbers, intraday
 * datetime "YYYY-MM-DD HH:MM:SS" in meta.exchange_timezone (UTC when absent), converted to
 * UTC; "YYYY-MM-DD" (the trading date) for daily and coarser. A status "error"
 * body maps its code: 400 "No data is available" gives 0 bars, other 400/404
 * MD_ENOTFOUND, 401/403 MD_EUNAUTHSRC, 429 MD_ERATELIMIT, 5xx MD_ETRANSIENT. */
int md_twelvedata_parse_series(const char *body, size_t len, md_interval iv, md_bar_vec *out,
                               md_error *err);
/* Twelve Data /quote: close as the price, last_quote_at (else timestamp), volume. */
int md_twelvedata_parse_quote(const char *body, size_t len, md_quote *out, md_error *err);

#endif
