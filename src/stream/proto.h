/* proto.h - the /stream wire protocol (API.md "WebSocket /stream"): parsing what clients
 * send and rendering what the server sends. No I/O, no threads.
 *
 * Client to server (JSON text):
 *   {"op":"subscribe","symbols":["AAPL"],"channels":["quote","bar.1m"],"since_seq":123}
 *   {"op":"subscribe","symbols":["AAPL"],"channels":["ind.rsi:14@1m"],"partial":true}
 *   {"op":"subscribe","channels":["screen.oversold"]}          (screens are not per symbol)
 *   {"op":"subscribe","channels":["market"],"calendars":["XNYS"]}  (= channel market.XNYS)
 *   {"op":"unsubscribe","symbols":[..],"channels":[..]}      (omitted list = all)
 *   {"op":"ping"}
 * Server to client: welcome, subscribed, unsubscribed, quote, bar, indicator, screen,
 * lagged, error, pong.
 *
 * Extension channels: "ind.<spec>@<interval>" (an indicator as in ?names=, computed live by
 * pipeline/live.c), "screen.<name>" (a screen's enter and leave events, pipeline/screen.c)
 * and "bar.<interval>@splits|all" (bars adjusted for corporate actions, query/stream_adjust.c;
 * what a bar subscription with "adjust" becomes) and "market.<MIC>" (an exchange calendar's
 * session opens and closes, stream/market.c) are named by text; the hub gives each name a channel number (md_hub_xchannel). Only their
 * syntax is checked here. */
#ifndef MD_STREAM_PROTO_H
#define MD_STREAM_PROTO_H

#include "analytics/adjust.h"
#include "analytics/indicators.h"
#include "core/bar.h"
#include "core/buf.h"
#include "core/error.h"
#include "stream/frame.h"

#include <stddef.h>
#include <stdint.h>

#define MD_CH_ALL ((1u << MD_CH_COUNT) - 1)

/* "quote", "bar.1m", ... "bar.1mo" for channel ch; "?" when out of range. */
const char *md_channel_name(int ch);
/* Parses a channel name; MD_ECHANNEL naming the text otherwise. */
int md_channel_parse(const char *s, size_t n, int *out, md_error *err);

#define MD_XCH_NAME_MAX 96
/* The internal twin of an indicator channel that carries the values on forming bars: a
 * subscription with "partial":true subscribes to both. */
#define MD_XCH_PARTIAL_SUFFIX "+partial"

/* An extension channel named by a client, in canonical form ("ind.rsi:14@1m"). */
typedef struct md_xchan {
    char name[MD_XCH_NAME_MAX];
} md_xchan;

/* Checks an extension channel name and writes its canonical form into out: "ind.<spec>@
 * <interval>" (the spec as ?names= takes it, parameters filled in: ind.rsi@1m is
 * ind.rsi:14@1m; an indicator whose values depend on later bars, psar, is refused) or
 * "screen.<name>" (letters, digits, '_' and '-') or "market.<calendar>" (a MIC or alias of
 * calendar/calendar.h, written as its MIC: market.nyse is market.XNYS). MD_ECHANNEL saying what is wrong. */
int md_xchannel_parse(const char *s, size_t n, char out[MD_XCH_NAME_MAX], md_error *err);
/* Decodes an adjusted bar channel "bar.<interval>@splits|all" (query/stream_adjust.c serves
 * them: the bars of bar.<interval> adjusted as /historical's adjust= says); MD_ECHANNEL for
 * any other name. */
int md_xchannel_bar(const char *name, md_interval *iv, md_adjust *mode);
/* 1 for extension channels that are not per symbol (screen.*, market.*): their topic's symbol is "". */
int md_xchannel_symbolless(const char *name);
/* Decodes a canonical "ind." channel name (with or without the partial suffix); 0 on
 * success, MD_ECHANNEL otherwise. *partial (may be NULL) tells the suffix. */
int md_xchannel_ind(const char *name, md_ind_spec *spec, md_interval *iv, int *partial);

typedef enum { MD_OP_SUBSCRIBE = 1, MD_OP_UNSUBSCRIBE, MD_OP_PING } md_op_kind;

typedef struct md_op {
    md_op_kind kind;
    md_symbol *symbols; /* heap, normalised, without duplicates (md_op_deinit) */
    size_t n_symbols;   /* 0: none given */
    uint32_t channels;  /* bit per MD_CH_*; 0: none given */
    md_xchan *xch;      /* extension channels, canonical, without duplicates (heap) */
    size_t n_xch;
    int market;       /* channel "market" named: parsing expands it by "calendars" */
    int partial;      /* subscribe: also the values of indicators on forming bars */
    md_adjust adjust; /* "adjust" (default none): bar channels were turned into bar.X@mode */
    int has_since;
    uint64_t since_seq;
} md_op;

/* Parses one client message. Errors (the connection stays open; the caller answers with
 * an error message): MD_EJSON (not JSON, not an object), MD_EOP (missing or unknown op),
 * MD_EPARAM (a field of the wrong type, an empty symbol list on a subscribe to channels that
 * are per symbol, more than max_symbols symbols), MD_ESYMBOL, MD_ECHANNEL. */
int md_proto_parse(const char *msg, size_t len, size_t max_symbols, md_op *op, md_error *err);
void md_op_deinit(md_op *op);

/* Frames (one reference each, owned by the caller). Data frames carry seq, channel and
 * symbol for the hub. */
md_frame *md_proto_quote(const md_quote *q, uint64_t seq);
/* closed: a live bar published at its close (its "partial" is false even when this clock
 * has not reached the end of its period yet: a tick of a later bucket closed it); else
 * "partial" is md_bar_partial's at now. */
md_frame *md_proto_bar(const char *symbol, md_interval iv, const md_bar *b, uint64_t seq,
                       int closed);
/* A message of an extension channel: {"type":type,"seq":seq,"channel":channel[,"symbol":
 * symbol]<fields>}, fields being members rendered by the functions below (each starts with
 * a comma). symbol "" for channels that are not per symbol. The caller sets f->channel. */
md_frame *md_proto_ext(const char *type, uint64_t seq, const char *channel, const char *symbol,
                       const char *fields, size_t fields_len);
/* The fields of an "indicator" message: interval, indicator (canonical spec), timestamp
 * (the bar's), "value" (one output) or "values" {output: value} (null while warming up),
 * partial (true on a bar still forming). */
void md_proto_indicator_fields(md_buf *out, md_interval iv, const md_ind_spec *spec, int64_t ts,
                               const double *values, int partial);

/* The fields of a "bar" message on an adjusted bar channel: interval, then what a bar
 * message has from timestamp to partial (the caller adds "adjust" and "adjustment"). */
void md_proto_bar_fields(md_buf *out, md_interval iv, const md_bar *b, int closed);

typedef struct md_welcome {
    const char *session, *instance;
    int64_t server_time;  /* epoch seconds */
    uint64_t seq;         /* last sequence number published so far */
    const char *sequence; /* who numbers: "deployment" (every agent on one Redis) or "instance" */
    size_t max_message_bytes, max_subscriptions, max_messages_per_s;
} md_welcome;
md_frame *md_proto_welcome(const md_welcome *w);
/* {"type":"subscribed"|"unsubscribed","symbols":[..],"channels":[..],...}; for subscribe
 * also "seq" (last published), "replayed" and "replay_complete" (0 when since_seq asked for
 * messages the replay buffer no longer holds). */
md_frame *md_proto_subscribed(const md_op *op, uint32_t channels, uint64_t seq, size_t replayed,
                              int complete);
md_frame *md_proto_unsubscribed(const md_op *op, uint32_t channels, size_t remaining);
/* {"type":"error","code":<API code of rc>,"message":..}. */
md_frame *md_proto_error(int rc, const char *message);
md_frame *md_proto_pong(int64_t server_time);
/* Appends the {"type":"lagged","dropped":N} frame to out. */
void md_proto_lagged(md_buf *out, uint64_t dropped);
/* The same as a frame of its own (one reference, owned by the caller). */
md_frame *md_proto_lagged_frame(uint64_t dropped);

#endif
