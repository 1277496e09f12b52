// reference.mjs - prints, as JSON, the holidays independent npm packages give for the
// years 1990-2030, mapped to what each exchange closes on (tests/e2e/test_calendar.py
// compares them with GET /calendars/{mic}). The packages list public holidays, not
// exchange holidays; the mapping, per calendar:
//   XNYS, XNAS  nyse-holidays: the NYSE's regular holidays, as they are (no one-off
//               closures: those are checked against real daily bars instead)
//   XLON        date-holidays GB-ENG, type public: England's bank holidays, substitutes
//               and royal one-offs included
//   XETR        date-holidays DE: Neujahr, Karfreitag, Ostermontag, Maifeiertag, 1./2.
//               Weihnachtstag (public) and Heiliger Abend, Silvester (bank) - Xetra trades
//               on the other German public holidays
//   XPAR        date-holidays FR: Nouvel An, Lundi de Pâques, Fête du travail, Noël
//               (Euronext trades on France's other public holidays); Good Friday and
//               26 December are Euronext's own and not French public holidays
//   XSWX        date-holidays CH-ZH (SIX is in Zürich): every public holiday but Sundays'
//               and Eidg. Bettag, plus Berchtoldstag (optional in ZH, closed at SIX)
//   XTKS        @holiday-jp/holiday_jp (Japan's national holidays with substitutes and
//               citizens' holidays) plus 31 December and 2-3 January (JPX's year-end
//               holidays)
//   XHKG        date-holidays HK, type public: Hong Kong's general holidays
// "all" lists every holiday of any type a calendar may close on, for the other direction
// of the comparison.
import Holidays from 'date-holidays';
import { getHolidays } from 'nyse-holidays';
import holidayJp from '@holiday-jp/holiday_jp';

const Y0 = 1990, Y1 = 2030;
const out = {};

function fromDH(country, state, pick) {
    const hd = state ? new Holidays(country, state) : new Holidays(country);
    const mapped = [], all = [];
    for (let y = Y0; y <= Y1; y++) {
        for (const h of hd.getHolidays(y)) {
            const d = h.date.slice(0, 10);
            if (h.type !== 'observance') all.push(d);
            if (pick(h)) mapped.push(d);
        }
    }
    return { mapped, all };
}

const nyse = [];
for (let y = Y0; y <= Y1; y++) for (const h of getHolidays(y)) nyse.push(h.dateString);
out.XNYS = { mapped: nyse, all: nyse };
out.XNAS = out.XNYS;

out.XLON = fromDH('GB', 'ENG', h => h.type === 'public');

const de = new Set(['Neujahr', 'Karfreitag', 'Ostermontag', 'Maifeiertag', '1. Weihnachtstag',
                    '2. Weihnachtstag', 'Heiliger Abend', 'Silvester']);
out.XETR = fromDH('DE', null, h => de.has(h.name));

const fr = new Set(['Nouvel An', 'Lundi de Pâques', 'Fête du travail', 'Noël']);
out.XPAR = fromDH('FR', '67', h => fr.has(h.name));

out.XSWX = fromDH('CH', 'ZH', h => (h.type === 'public' && !/Bettag|sonntag/i.test(h.name)) ||
                                   h.name === 'Berchtoldstag');

const jp = holidayJp.between(new Date(Date.UTC(Y0, 0, 1)), new Date(Date.UTC(Y1, 11, 31)))
    .map(h => h.date.toISOString().slice(0, 10));
for (let y = Y0; y <= Y1; y++) jp.push(`${y}-12-31`, `${y}-01-02`, `${y}-01-03`);
out.XTKS = { mapped: jp, all: jp };

out.XHKG = fromDH('HK', null, h => h.type === 'public');

console.log(JSON.stringify(out));
