/* contract.h - the API documents a tool can read: OpenAPI 3.1 for the REST routes
 * (/openapi.json) and AsyncAPI 3 for the WebSocket protocol of /stream (/asyncapi.json).
 *
 * Both are generated from the tables the agent runs on, so they cannot drift from it:
 *   routes.def     paths, methods, which routes need an API key or take a body, the query
 *                  parameters each route takes
 *   errors.def     every error code and its HTTP status
 *   intervals, sources, stream channels   the enums of the schemas
 * and from server/contract.json (compiled in): what each route answers (JSON Schemas), what
 * each parameter means, the WebSocket messages. docs/openapi.json and docs/asyncapi.json are
 * the same text (`mdagent contract openapi|asyncapi`); tests/e2e/test_contracts.py checks
 * them against the running agent with real validators. */
#ifndef MD_SERVER_CONTRACT_H
#define MD_SERVER_CONTRACT_H

#include "core/error.h"

#include <stddef.h>

typedef enum { MD_CONTRACT_OPENAPI, MD_CONTRACT_ASYNCAPI } md_contract_kind;

/* The document as JSON text (indented, ending in a newline), rendered once per process and
 * kept: the pointer stays valid until exit (len may be NULL). NULL with err set when the
 * data and the tables disagree (a route without data, an unknown error code or parameter):
 * a bug that tests/unit/test_contract.c catches. */
const char *md_contract_doc(md_contract_kind kind, size_t *len, md_error *err);

/* Checks that the data covers the tables: every route of routes.def has an entry, every
 * parameter a route takes is described, every error code named exists, every stream channel
 * of the protocol's table has a channel in the data. 0, or MD_EINTERNAL naming the first
 * gap. */
int md_contract_check(md_error *err);

#endif
