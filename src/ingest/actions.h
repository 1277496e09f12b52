/* actions.h - corporate actions from request bodies and files into md_action records.
 *
 * JSON (POST /ingest/actions):
 *   {"actions":[{"symbol":"AAPL","type":"split","ex_date":"2020-08-31","numerator":4,
 *                "denominator":1},
 *               {"symbol":"AAPL","type":"dividend","ex_date":"2024-11-08","amount":0.25,
 *                "currency":"USD","pay_date":"2024-11-14"}]}
 * CSV (mdagent load, an actions file): a header naming symbol, type, ex_date and, as the
 * types need, numerator, denominator, amount, currency, pay_date (any order, any case;
 * "date" for ex_date and "ratio" as "4:1" or "4/1" are accepted too). A file is an actions
 * file when its header has a type and an ex_date (or date) column and no close column, or
 * when it is one of Yahoo Finance's events downloads: "Date,Stock Splits" (ratio "4:1", or a
 * number as pandas writes it: 4.0, 0.1 for 1:10) or "Date,Dividends" (amount), one type per
 * file and no symbol column (the caller names the symbol).
 *
 * Each item is checked on its own (md_action_validate); an item that fails becomes a
 * per-index error in the batch's error list, like /ingest/bars, and the rest go on. */
#ifndef MD_INGEST_ACTIONS_H
#define MD_INGEST_ACTIONS_H

#include "core/action.h"
#include "ingest/batch.h"

#include <stddef.h>

/* Parses a JSON body: the good items into out (each with source), their input index into
 * index[] (heap, md_free; may be NULL), the bad ones as errors of errs (md_bar_batch used for
 * its error list and n_items only). MD_EJSON when the body is not {"actions":[...]}. */
int md_actions_parse_json(const char *body, size_t len, int source, md_action_vec *out,
                          size_t **index, md_bar_batch *errs, md_error *err);

/* 1 when a CSV header line names an actions file (see above); *has_symbol (may be NULL)
 * says whether it has a symbol column. */
int md_actions_csv_header(const char *line, size_t len, int *has_symbol);

/* Parses a whole actions CSV text (header first), same outputs as md_actions_parse_json;
 * item indexes count data lines from 0. symbol (NULL: none) is the symbol of the records
 * of a file without a symbol column. MD_ECSV when the header is not an actions header. */
int md_actions_parse_csv(const char *text, size_t len, const char *symbol, int source,
                         md_action_vec *out, size_t **index, md_bar_batch *errs, md_error *err);

#endif
