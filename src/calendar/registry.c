/* registry.c - the calendars compiled in: one data file each (data/<MIC>.def), listed
 * once here with the names they are also known by. Adding a calendar is one file and one
 * line. The lunisolar table the Hong Kong calendar reads (data/lunar.def) lives here too. */
#include "calendar/calendar_int.h"

#include "core/mem.h"
#include "core/timefmt.h"

#include <stddef.h>

static const md_cal__row xnys[] = {
#include "calendar/data/XNYS.def"
};
static const md_cal__row xnas[] = {
#include "calendar/data/XNAS.def"
};
static const md_cal__row xlon[] = {
#include "calendar/data/XLON.def"
};
static const md_cal__row xetr[] = {
#include "calendar/data/XETR.def"
};
static const md_cal__row xpar[] = {
#include "calendar/data/XPAR.def"
};
static const md_cal__row xswx[] = {
#include "calendar/data/XSWX.def"
};
static const md_cal__row xtks[] = {
#include "calendar/data/XTKS.def"
};
static const md_cal__row xhkg[] = {
#include "calendar/data/XHKG.def"
};
static const md_cal__row crypto[] = {
#include "calendar/data/CRYPTO.def"
};
static const md_cal__row fx[] = {
#include "calendar/data/FX.def"
};

#define CAL(mic_, aliases_, rows_)                                                                 \
    {                                                                                              \
        .mic = mic_, .aliases = aliases_, .rows = rows_, .n_rows = MD_ARRAY_LEN(rows_)             \
    }
md_cal md_cal__all[] = {
    /* aliases: common names and the providers' exchange codes (Yahoo exchangeName, Twelve
     * Data mic_code/exchange, Polygon primary_exchange, Finnhub profile2 exchange), which
     * md_cal_for_exchange maps; NYSE American, Arca and Cboe BZX keep NYSE's sessions */
    CAL("XNYS",
        "|NYSE|NEW YORK|NYQ|NYS|NEW YORK STOCK EXCHANGE|ASE|AMEX|XASE|NYSE AMERICAN|NYSE MKT|"
        "NYSE MKT LLC|PCX|ARCX|NYSE ARCA|BTS|BATS|CBOE BZX|",
        xnys),
    CAL("XNAS", "|NASDAQ|NMS|NGM|NCM|NAS|NMQ|XNGS|XNMS|XNCM|XNIM|", xnas),
    CAL("XLON", "|LSE|LONDON|LONDON STOCK EXCHANGE|IOB|", xlon),
    CAL("XETR", "|XETRA|GER|FRANKFURT|FRA|XFRA|DEUTSCHE BOERSE AG|", xetr),
    CAL("XPAR", "|EURONEXT PARIS|PARIS|EPA|PAR|", xpar),
    CAL("XSWX", "|SIX|SWISS|EBS|VTX|XVTX|SIX SWISS EXCHANGE|", xswx),
    CAL("XTKS", "|TSE|TOKYO|JPX|XJPX|TYO|TOKYO STOCK EXCHANGE|", xtks),
    CAL("XHKG", "|HKEX|HKSE|HONG KONG|HKG|HONG KONG EXCHANGES AND CLEARING LTD|", xhkg),
    CAL("24/7", "|24X7|CRYPTO|CCC|", crypto),
    CAL("24/5", "|24X5|FX|FOREX|CCY|", fx),
};
const size_t md_cal__n = MD_ARRAY_LEN(md_cal__all);

static const struct {
    int16_t year, mmdd[LUNAR_NCOLS];
} lunar[] = {
#define LUNAR(y, a, b, c, d, e, f) {y, {a, b, c, d, e, f}},
#include "calendar/data/lunar.def"
#undef LUNAR
};

int md_cal__lunar(int y, int64_t out[LUNAR_NCOLS])
{
    int i = y - lunar[0].year;
    if (i < 0 || (size_t)i >= MD_ARRAY_LEN(lunar)) return 0;
    for (int k = 0; k < LUNAR_NCOLS; k++)
        out[k] = md_days_from_civil(y, (unsigned)(lunar[i].mmdd[k] / 100),
                                    (unsigned)(lunar[i].mmdd[k] % 100));
    return 1;
}
