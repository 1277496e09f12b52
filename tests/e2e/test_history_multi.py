"""End to end, issue 21 "Many symbols at once": GET /historical?symbols=A,B,C and
`mdagent query A B C` against the sample data.

- Each symbol's rows (JSON and CSV, 1d stored and 1w aggregated, adjusted or not, order=desc)
  are its /historical/{symbol} bars exactly, with a `symbol` field/column first, ordered by
  symbol as listed then time; the daily closes are those of the sample files.
- Paging with a small limit through `next` (JSON) and the Link header (CSV) returns every row
  once, in order, each page at most `limit` rows, and each failed symbol's error once.
- Errors: unknown and invalid symbols are listed per symbol (JSON errors, CSV
  X-Symbol-Errors), no valid symbol is 400 invalid_symbol, more than
  server.max_symbols_per_request is 400 invalid_parameter, so is a bad cursor.
- `mdagent query A B` writes the same long format, whole range or page by page (--cursor)."""
import csv
import io
import json
import os
import tempfile
import unittest
import urllib.parse

from mdtest import SAMPLE, AgentTest, curl, run_cli

MAX = 4
RANGE = "start=1995-06-01&end=2001-06-01"


def sample_closes(symbol, start, end):
    with open(os.path.join(SAMPLE, f"{symbol}.csv")) as f:
        return [(r["date"] + "T00:00:00Z", float(r["close"])) for r in csv.DictReader(f)
                if start <= r["date"] < end]


def csv_rows(text):
    return list(csv.reader(io.StringIO(text)))


class HistoryMulti(AgentTest):
    args = ("--set", f"server.max_symbols_per_request={MAX}")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # INTRA: hourly bars round the clock for a week of January 2024 (XNYS: the regular
        # session 14:30-21:00 UTC keeps 7 of each weekday's 24)
        cls.tmp = tempfile.mkdtemp(dir=cls.agent.dir)
        path = os.path.join(cls.tmp, "INTRA.csv")
        with open(path, "w") as f:
            f.write("timestamp,open,high,low,close,volume\n")
            for day in range(8, 13):
                for h in range(24):
                    p = 100 + day + h / 100
                    f.write(f"2024-01-{day:02d}T{h:02d}:00:00Z,{p},{p + 1},{p - 1},{p},{100 + h}\n")
        cls.agent.load(path, extra=("--interval", "1h", "--symbol", "INTRA"))

    def single(self, symbol, query):
        h = self.get_json(f"/historical/{symbol}?{query}&limit=100000")
        self.assertFalse(h["truncated"])
        return h["bars"]

    def single_csv(self, symbol, query):
        r = self.get(f"/historical/{symbol}?{query}&limit=100000&format=csv")
        self.assertEqual(r.status, 200, r)
        rows = csv_rows(r.body)
        self.assertEqual(rows[0][0], "timestamp")
        return rows[0], rows[1:]

    def follow(self, path, use_link=False):
        """Every page of a paged answer: [(response, doc or None)]."""
        url = self.agent.url + path
        pages = []
        while url:
            r = curl(url, timeout=60)
            self.assertEqual(r.status, 200, r)
            doc = None if use_link else r.json()
            pages.append((r, doc))
            link = r.headers.get("link")
            if use_link:
                url = link[1:link.index(">")] if link else None
            else:
                self.assertEqual(bool(doc["truncated"]), "next" in doc, doc)
                self.assertEqual(link, f'<{doc["next"]}>; rel="next"' if "next" in doc else None)
                url = doc.get("next")
            self.assertLess(len(pages), 1000)
        return pages

    # -- one answer ---------------------------------------------------------------------------

    def test_json_rows_are_each_symbols_single_route_bars(self):
        syms = ["SMI", "MSFT", "DAX"]
        for query in (f"interval=1d&{RANGE}", f"interval=1w&{RANGE}", f"interval=1d&{RANGE}&adjust=none",
                      f"interval=1d&{RANGE}&order=desc", "interval=1mo&start=1996-01-15&end=1996-06-15"):
            with self.subTest(query=query):
                d = self.get_json(f"/historical?symbols={','.join(syms)}&{query}&limit=100000")
                self.assertEqual(d["symbols"], syms)
                self.assertEqual(d["errors"], [])
                self.assertFalse(d["truncated"])
                self.assertNotIn("next", d)
                self.assertEqual(d["count"], len(d["bars"]))
                want = []
                for s in syms:
                    want += [dict({"symbol": s}, **b) for b in self.single(s, query)]
                self.assertGreater(len(want), 10)
                self.assertEqual(d["bars"], want)
                if "1mo" in query:  # buckets cut by the range are partial, as on the single route
                    self.assertTrue(any(b["partial"] for b in d["bars"]))
                self.assertEqual([list(b)[0] for b in d["bars"]], ["symbol"] * len(want))
                self.assertEqual(d.get("order"), "desc" if "desc" in query else None)
        # the daily closes are the files' (an independent reference, not our own answer)
        d = self.get_json(f"/historical?symbols=dax,MSFT&{RANGE}&limit=100000")
        got = [(b["symbol"], b["timestamp"], b["close"]) for b in d["bars"]]
        want = [("DAX", t, c) for t, c in sample_closes("DAX", "1995-06-01", "2001-06-01")]
        want += [("MSFT", t, c) for t, c in sample_closes("MSFT", "1995-06-01", "2001-06-01")]
        self.assertEqual(got, want)
        self.assertEqual(d["symbols"], ["DAX", "MSFT"])

    def test_csv_rows_are_each_symbols_single_route_rows(self):
        syms = ["FTSE", "CAC", "MSFT"]
        for query in (f"interval=1d&{RANGE}", f"interval=1w&{RANGE}&order=desc"):
            with self.subTest(query=query):
                r = self.get(f"/historical?symbols={','.join(syms)}&{query}&limit=100000&format=csv")
                self.assertEqual(r.status, 200, r)
                self.assertTrue(r.headers["content-type"].startswith("text/csv"), r.headers)
                self.assertNotIn("link", r.headers)
                self.assertNotIn("x-symbol-errors", r.headers)
                rows = csv_rows(r.body)
                want = []
                for s in syms:
                    header, single = self.single_csv(s, query)
                    want += [[s] + row for row in single]
                self.assertEqual(rows[0], ["symbol"] + header)
                self.assertEqual(rows[0][:7], ["symbol", "timestamp", "open", "high", "low", "close", "volume"])
                self.assertEqual(rows[1:], want)

    def test_repeated_symbols_come_once(self):
        d = self.get_json(f"/historical?symbols=MSFT,msft,DAX,MSFT&{RANGE}&limit=100000")
        self.assertEqual(d["symbols"], ["MSFT", "DAX"])
        self.assertEqual([b["symbol"] for b in d["bars"]],
                         ["MSFT"] * len(self.single("MSFT", RANGE)) + ["DAX"] * len(self.single("DAX", RANGE)))

    # -- paging -------------------------------------------------------------------------------

    def test_pages_return_every_row_once_in_order(self):
        syms = "DAX,NOPE,MSFT,SMI"
        for query, limit in ((f"interval=1d&{RANGE}", 97), (f"interval=1w&{RANGE}&order=desc", 41),
                             ("interval=1d&start=2001-05-20&end=2001-06-01", 3)):
            with self.subTest(query=query, limit=limit):
                whole = self.get_json(f"/historical?symbols={syms}&{query}&limit=100000")
                pages = self.follow(f"/historical?symbols={syms}&{query}&limit={limit}")
                self.assertGreater(len(pages), 2)
                rows, errors = [], []
                for _, doc in pages:
                    self.assertLessEqual(doc["count"], limit)
                    self.assertEqual(doc["count"], len(doc["bars"]))
                    rows += doc["bars"]
                    errors += doc["errors"]
                for _, doc in pages[:-1]:  # a page stops early only where the list ends
                    self.assertEqual(doc["count"], limit)
                self.assertEqual(rows, whole["bars"])
                keys = [(b["symbol"], b["timestamp"]) for b in rows]
                self.assertEqual(len(keys), len(set(keys)))
                self.assertEqual([e["symbol"] for e in errors], ["NOPE"])
                self.assertEqual(errors[0]["code"], "not_found")
                self.assertEqual(whole["errors"], errors)
        # CSV: the Link header carries the next page
        query = f"interval=1d&{RANGE}"
        whole = self.get(f"/historical?symbols=MSFT,DAX&{query}&limit=100000&format=csv")
        pages = self.follow(f"/historical?symbols=MSFT,DAX&{query}&limit=150&format=csv", use_link=True)
        self.assertGreater(len(pages), 3)
        rows = []
        for r, _ in pages:
            page = csv_rows(r.body)
            self.assertEqual(page[0], csv_rows(whole.body)[0])
            self.assertLessEqual(len(page) - 1, 150)
            rows += page[1:]
        self.assertEqual(rows, csv_rows(whole.body)[1:])

    def test_single_symbol_next_is_the_same_request(self):
        """/historical/{symbol}: following next (JSON) or Link (CSV) gives the one-page answer,
        each next carrying every parameter of the request (only start or end moved)."""
        cases = [("MSFT", "interval=1d&start=2000-12-28&adjust=none", 7),
                 ("INTRA", "interval=1h&session=regular", 5),
                 ("INTRA", "interval=1h&session=REGULAR&order=desc&adjust=all", 4),
                 ("INTRA", "interval=4h&session=extended&partial=exclude", 3),
                 ("MSFT", f"interval=1w&{RANGE}&source=yahoo&cached_only=true", 9)]
        for sym, query, limit in cases:
            with self.subTest(symbol=sym, query=query):
                whole = self.get_json(f"/historical/{sym}?{query}&limit=100000")
                self.assertFalse(whole["truncated"])
                pages = self.follow(f"/historical/{sym}?{query}&limit={limit}")
                self.assertGreater(len(pages), 2)
                asked = urllib.parse.parse_qs(query)
                rows = []
                for _, doc in pages:
                    rows += doc["bars"]
                    self.assertEqual((doc["adjust"], "adjustment" in doc),
                                     (whole["adjust"], "adjustment" in whole))
                    if "next" not in doc:
                        continue
                    got = urllib.parse.parse_qs(urllib.parse.urlparse(doc["next"]).query)
                    for name, value in asked.items():
                        if name not in ("start", "end"):
                            self.assertEqual([v.lower() for v in got.get(name, [])],
                                             [v.lower() for v in value], (name, doc["next"]))
                self.assertEqual(rows, whole["bars"])
                # CSV: the Link header
                one = self.get(f"/historical/{sym}?{query}&limit=100000&format=csv")
                pages = self.follow(f"/historical/{sym}?{query}&limit={limit}&format=csv",
                                    use_link=True)
                rows = [row for r, _ in pages for row in csv_rows(r.body)[1:]]
                self.assertEqual(rows, csv_rows(one.body)[1:])
        # the session was applied to every page: 7 regular hours a weekday
        regular = self.get_json("/historical/INTRA?interval=1h&session=regular&limit=100000")
        self.assertEqual(regular["count"], 35)

    def test_next_carries_the_symbol_and_where_it_stopped(self):
        d = self.get_json("/historical?symbols=MSFT,DAX&start=2001-09-20&end=2001-10-01&limit=3")
        self.assertEqual([b["timestamp"][:10] for b in d["bars"]], ["2001-09-20", "2001-09-21", "2001-09-24"])
        q = urllib.parse.parse_qs(urllib.parse.urlparse(d["next"]).query)
        self.assertEqual(q["cursor"], ["0,2001-09-25T00:00:00Z"])
        self.assertEqual(q["symbols"], ["MSFT,DAX"])
        d = self.get_json("/historical?symbols=MSFT,DAX&start=2001-09-20&end=2001-10-01&limit=3"
                          "&cursor=0,2001-09-25T00:00:00Z")
        self.assertEqual([b["timestamp"][:10] for b in d["bars"]], ["2001-09-25", "2001-09-26", "2001-09-27"])
        # MSFT ends exactly with the page: the next one starts at DAX (which has nothing here)
        q = urllib.parse.parse_qs(urllib.parse.urlparse(d["next"]).query)
        self.assertEqual(q["cursor"], ["1"])
        last = self.get_json("/historical?symbols=MSFT,DAX&start=2001-09-20&end=2001-10-01&limit=3&cursor=1")
        self.assertEqual((last["bars"], last["truncated"], last["errors"]), ([], False, []))

    # -- errors -------------------------------------------------------------------------------

    def test_unknown_and_invalid_symbols_are_listed_per_symbol(self):
        d = self.get_json(f"/historical?symbols=NOPE,MSFT,b%40d&{RANGE}&limit=100000")
        self.assertEqual(d["symbols"], ["NOPE", "MSFT"])
        self.assertEqual(d["bars"], [dict({"symbol": "MSFT"}, **b) for b in self.single("MSFT", RANGE)])
        self.assertEqual([(e["symbol"], e["code"]) for e in d["errors"]],
                         [("NOPE", "not_found"), ("b@d", "invalid_symbol")])
        self.assertTrue(all(e["message"] for e in d["errors"]))
        r = self.get(f"/historical?symbols=NOPE,MSFT,b%40d&{RANGE}&format=csv")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["x-symbol-errors"], "NOPE:not_found, b%40d:invalid_symbol")
        self.assertEqual({row[0] for row in csv_rows(r.body)[1:]}, {"MSFT"})
        # every symbol unknown: an answer with no rows and each error
        d = self.get_json("/historical?symbols=NOPE,NADA")
        self.assertEqual((d["bars"], d["count"]), ([], 0))
        self.assertEqual([e["code"] for e in d["errors"]], ["not_found", "not_found"])

    def test_bad_requests_are_400(self):
        self.assert_error("/historical?symbols=b%40d,a%20b", 400, "invalid_symbol")
        self.assert_error("/historical?symbols=A,B,C,D,E", 400, "invalid_parameter")
        self.get_json("/historical?symbols=A,B,C,DAX")  # MAX is allowed
        self.assert_error("/historical", 400, "invalid_parameter")
        self.assert_error("/historical?symbols=", 400, "invalid_parameter")
        self.assert_error("/historical?symbols=DAX&cursor=1", 400, "invalid_parameter")
        self.assert_error("/historical?symbols=DAX,SMI&cursor=x", 400, "invalid_parameter")
        self.assert_error("/historical?symbols=DAX,SMI&cursor=1,notatime", 400, "invalid_parameter")
        self.assert_error("/historical?symbols=DAX&limt=5", 400, "invalid_parameter")
        self.assert_error("/historical?symbols=DAX&interval=7m", 400, "invalid_interval")
        self.assert_error("/historical?symbols=DAX&start=2001-01-01&end=2000-01-01", 400, "invalid_time_range")
        self.assert_error("/historical?symbols=DAX&limit=0", 400, "invalid_parameter")
        # this agent has no sources: a source asked by name fails the request, as for one symbol
        for path in ("/historical/DAX?source=yahoo", "/historical?symbols=DAX,SMI&source=yahoo"):
            body = self.assert_error(path, 503, "no_healthy_source")
            self.assertIn("no sources are configured", body["error"]["message"])
        self.assertEqual(self.get_json("/historical?symbols=DAX&source=yahoo&cached_only=true&limit=1")["count"], 1)

    # -- the CLI ------------------------------------------------------------------------------

    def test_cli_query_writes_the_same_long_format(self):
        query = f"interval=1d&{RANGE}"
        rest = self.get(f"/historical?symbols=SMI,MSFT&{query}&limit=100000&format=csv")
        p = run_cli("query", "SMI", "MSFT", "--db", self.agent.db, "--start", "1995-06-01", "--end", "2001-06-01")
        self.assertEqual(csv_rows(p.stdout), csv_rows(rest.body))
        p = run_cli("query", "SMI", "MSFT", "--db", self.agent.db, "--start", "1995-06-01", "--end", "2001-06-01",
                    "--format", "json")
        doc = json.loads(p.stdout)
        whole = self.get_json(f"/historical?symbols=SMI,MSFT&{query}&limit=100000")
        self.assertEqual(doc["bars"], whole["bars"])
        self.assertEqual((doc["symbols"], doc["count"], doc["errors"], doc["truncated"]),
                         (["SMI", "MSFT"], whole["count"], [], False))
        # one page at a time: --limit, and --cursor as stderr says
        rows, cursor = [], None
        for _ in range(100):
            extra = ("--cursor", cursor) if cursor else ()
            p = run_cli("query", "SMI", "MSFT", "--db", self.agent.db, "--start", "1995-06-01", "--end",
                        "2001-06-01", "--limit", "400", *extra)
            page = csv_rows(p.stdout)
            self.assertLessEqual(len(page) - 1, 400)
            rows += page[1:]
            if "--cursor" not in p.stderr:
                break
            cursor = p.stderr.split("--cursor ")[1].split()[0]
        self.assertEqual(rows, csv_rows(rest.body)[1:])
        # a symbol that fails is said, the others written, exit 1
        p = run_cli("query", "NOPE", "MSFT", "--db", self.agent.db, check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("NOPE", p.stderr)
        self.assertEqual({r[0] for r in csv_rows(p.stdout)[1:]}, {"MSFT"})
        self.assertEqual(len(csv_rows(p.stdout)) - 1, 249)
        # one symbol: the single-symbol format as before (no symbol column)
        p = run_cli("query", "MSFT", "--db", self.agent.db)
        self.assertEqual(csv_rows(p.stdout)[0][0], "timestamp")


if __name__ == "__main__":
    unittest.main()
