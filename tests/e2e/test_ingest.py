"""End to end: POST /ingest/bars and /ingest/quotes with API keys, validation per item,
upserts, and what /price and /historical answer afterwards."""
import json
import time
import unittest

from mdtest import Agent, AgentTest, curl

KEY = "test-key-123456"
AUTH = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}


class Ingest(AgentTest):
    env = {"MDAGENT_API_KEYS": f"other-key-999, {KEY}"}
    load_sample = False

    def post(self, path, doc, headers=AUTH):
        data = doc if isinstance(doc, str) else json.dumps(doc)
        return self.agent.post(path, data, headers=headers)

    def post_csv(self, query, body, **kw):
        """POST /ingest/bars{query} with a text/csv body (curl: as a client sends it)."""
        headers = {"X-API-Key": KEY, "Content-Type": "text/csv", **kw.pop("headers", {})}
        return curl(self.agent.url + "/ingest/bars" + query, method="POST", data=body,
                    headers=headers, **kw)

    def test_auth_is_required(self):
        r = self.post("/ingest/bars", {"bars": []}, headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.json()["error"]["code"], "unauthorized")
        r = self.post("/ingest/bars", {"bars": []}, headers={"Authorization": "Bearer wrong"})
        self.assertEqual(r.status, 401, r)
        r = self.post("/ingest/bars", {"bars": []}, headers={"X-API-Key": KEY})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.get("/ingest/bars").status, 405)

    def test_bars_are_validated_per_item_and_stored(self):
        bars = [
            {"symbol": "ingt", "interval": "1m", "timestamp": "2024-03-01T14:30:00Z",
             "open": 10, "high": 11, "low": 9, "close": 10.5, "volume": 100},
            {"symbol": "INGT", "interval": "1m", "timestamp": 1709303460,
             "open": 10.5, "high": 12, "low": 10, "close": 11.75, "volume": 50, "vwap": 11.1, "trades": 7},
            {"symbol": "INGT", "interval": "1m", "timestamp": "2024-03-01T14:32:00Z",
             "open": 10, "high": 9, "low": 11, "close": 10, "volume": 1},
            {"symbol": "bad symbol", "interval": "1m", "timestamp": "2024-03-01T14:33:00Z",
             "open": 1, "high": 1, "low": 1, "close": 1},
            {"symbol": "INGT", "interval": "7m", "timestamp": "2024-03-01T14:34:00Z",
             "open": 1, "high": 1, "low": 1, "close": 1},
            {"symbol": "INGT", "interval": "1m", "timestamp": "2024-03-01T14:35:30Z",
             "open": 1, "high": 1, "low": 1, "close": 1},
            {"symbol": "INGT", "interval": "1m", "timestamp": "2024-03-01T14:36:00Z", "open": "x",
             "high": 1, "low": 1, "close": 1},
        ]
        r = self.post("/ingest/bars", {"bars": bars})
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual(doc["accepted"], 2, doc)
        self.assertEqual(doc["rejected"], 5, doc)
        codes = {e["index"]: e["code"] for e in doc["errors"]}
        self.assertEqual(codes, {2: "high_below_low", 3: "invalid_symbol", 4: "invalid_interval",
                                 5: "unaligned_timestamp", 6: "invalid_bar"})
        h = self.get_json("/historical/INGT?interval=1m")
        self.assertEqual(h["count"], 2)
        self.assertEqual(h["bars"][1]["close"], 11.75)
        self.assertEqual(h["bars"][1]["vwap"], 11.1)
        self.assertEqual(h["bars"][1]["trades"], 7)
        self.assertEqual(h["bars"][1]["source"], "ingest")
        # the same bar again with a new close: upsert, not a duplicate
        bars[1]["close"] = 11.5
        self.post("/ingest/bars", {"bars": [bars[1]]})
        h = self.get_json("/historical/INGT?interval=1m")
        self.assertEqual(h["count"], 2)
        self.assertEqual(h["bars"][1]["close"], 11.5)
        # 5m aggregated from the stored minutes
        h5 = self.get_json("/historical/INGT?interval=5m")
        self.assertEqual(h5["count"], 1)
        self.assertEqual(h5["bars"][0]["volume"], 150)
        self.assertEqual(h5["bars"][0]["high"], 12)

    def test_numbers_of_any_size_are_items_not_body_errors(self):
        """A JSON integer beyond int64 is an item's number like 1.0e19: the batch is parsed,
        each item accepted or refused on its own; epoch integers (s, ms, ns) still work."""
        one = {"symbol": "BIGV", "interval": "1d", "open": 1, "high": 1, "low": 1, "close": 1}
        body = ('{"bars":['
                + json.dumps(dict(one, timestamp="2020-01-02"))[:-1] + ',"volume":12345678901234567890},'
                + json.dumps(dict(one, timestamp=1578268800000, trades=7))[:-1] + ',"volume":4611686018427387904.0},'
                + json.dumps(dict(one, timestamp=1578355200000000000, volume=5))[:-1]
                + ',"trades":99999999999999999999},'
                + json.dumps(dict(one, volume=5))[:-1] + ',"timestamp":99999999999999999999999},'
                + json.dumps(dict(one, timestamp=1578441600.5)) + ']}')
        r = self.post("/ingest/bars", body)
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual((doc["accepted"], doc["rejected"]), (2, 3), doc)
        self.assertEqual({e["index"]: e["code"] for e in doc["errors"]},
                         {2: "invalid_bar", 3: "invalid_time_range", 4: "invalid_time_range"})
        h = self.get_json("/historical/BIGV")
        # integral volumes print as integers at any size below 1e21 (the stored double's value)
        self.assertIn('"volume":12345678901234567168,', self.get("/historical/BIGV").body)
        self.assertEqual([(b["timestamp"][:10], b["volume"]) for b in h["bars"]],
                         [("2020-01-02", 12345678901234567168), ("2020-01-06", 4611686018427387904)])
        self.assertEqual(h["bars"][1]["trades"], 7)
        r = self.post("/ingest/quotes", '{"quotes":[{"symbol":"BIGQ","price":10,"timestamp":1700000000,'
                                        '"volume":12345678901234567890}]}')
        self.assertEqual((r.status, r.json()["accepted"]), (200, 1), r)
        r = self.post("/ingest/actions", '{"actions":[{"symbol":"BIGV","type":"split","ex_date":"2020-01-03",'
                                         '"numerator":4,"denominator":1},{"symbol":"BIGV","type":"dividend",'
                                         '"ex_date":"2020-01-03","amount":100000000000000000000000}]}')
        self.assertEqual((r.status, r.json()["accepted"]), (200, 2), r)

    def test_a_number_beyond_a_double_is_its_items_error(self):
        """1e309 (or 400 digits) does not fit a double: jansson refuses the whole body for it
        ("real number overflow"); the agent answers it as that item's error and keeps the
        others, in /ingest/bars, /ingest/quotes and /ingest/actions. A string holding such a
        literal is left as it is, and a body that is not JSON is still the body's error."""
        one = {"symbol": "HUGE", "interval": "1d", "open": 1, "high": 2, "low": 0.5, "close": 1.5}
        body = ('{"bars":[' + json.dumps(dict(one, timestamp="2021-01-04"))[:-1] + ',"volume":1e309},'
                + json.dumps(dict(one, timestamp="2021-01-05", volume=3)) + ','
                + json.dumps(dict(one, timestamp="2021-01-06"))[:-1] + ',"volume":1' + "0" * 400 + '},'
                + json.dumps({k: v for k, v in dict(one, timestamp="2021-01-07", note="x 1e999").items()
                              if k != "close"})[:-1] + ',"close":-1E+400}]}')
        r = self.post("/ingest/bars", body)
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual((doc["accepted"], doc["rejected"]), (1, 3), doc)
        self.assertEqual(sorted(e["index"] for e in doc["errors"]), [0, 2, 3], doc)
        for e in doc["errors"]:
            self.assertEqual(e["code"], "invalid_bar", e)
        h = self.get_json("/historical/HUGE")
        self.assertEqual([(b["timestamp"][:10], b["volume"]) for b in h["bars"]], [("2021-01-05", 3)])
        r = self.post("/ingest/quotes", '{"quotes":[{"symbol":"HUGE","price":-1e999,"timestamp":1700000000},'
                                        '{"symbol":"HUGE","price":12.5,"timestamp":1700000001}]}')
        self.assertEqual((r.status, r.json()["accepted"], r.json()["rejected"]), (200, 1, 1), r)
        r = self.post("/ingest/actions", '{"actions":[{"symbol":"HUGE","type":"split","ex_date":"2021-01-05",'
                                         '"numerator":1e309,"denominator":1},{"symbol":"HUGE","type":"dividend",'
                                         '"ex_date":"2021-01-05","amount":0.25}]}')
        self.assertEqual((r.status, r.json()["accepted"], r.json()["rejected"]), (200, 1, 1), r)
        r = self.post("/ingest/bars", '{"bars":[1e309')
        self.assertEqual((r.status, r.json()["error"]["code"]), (400, "invalid_json"), r)

    def test_a_split_ratio_that_breaks_the_prices_is_refused(self):
        """Numerator and denominator each > 0 and finite, but a ratio that underflows to 0
        (1e-300 for 1e300), overflows (1e300 for 1e-300) or is absurd would turn every
        adjusted price before it into null: such items are refused, the rest stored, and
        the adjusted series stays finite."""
        bars = [{"symbol": "RATX", "interval": "1d", "timestamp": d, "open": 50, "high": 51,
                 "low": 49, "close": 50, "volume": 100}
                for d in ("2024-09-04", "2024-09-05", "2024-09-06", "2024-09-09", "2024-09-10")]
        self.assertEqual(self.post("/ingest/bars", {"bars": bars}).json()["accepted"], 5)
        split = {"symbol": "RATX", "type": "split"}
        items = [dict(split, ex_date="2024-09-05", numerator=1e-300, denominator=1e300),
                 dict(split, ex_date="2024-09-06", numerator=1e300, denominator=1e-300),
                 dict(split, ex_date="2024-09-09", numerator=1e-320, denominator=1),
                 dict(split, ex_date="2024-09-09", numerator=1, denominator=4e9),
                 dict(split, ex_date="2024-09-10", numerator=2, denominator=1)]
        r = self.post("/ingest/actions", {"actions": items})
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual((doc["accepted"], doc["rejected"]), (1, 4), doc)
        self.assertEqual([(e["index"], e["code"]) for e in doc["errors"]],
                         [(i, "invalid_argument") for i in range(4)], doc)
        self.assertIn("ratio", doc["errors"][0]["message"])
        acts = self.get_json("/actions/RATX?cached_only=true")["actions"]
        self.assertEqual([(a["ex_date"], a["numerator"], a["denominator"]) for a in acts],
                         [("2024-09-10", 2, 1)])
        h = self.get_json("/historical/RATX?adjust=splits&cached_only=true")
        self.assertEqual([b["close"] for b in h["bars"]], [25, 25, 25, 25, 50])
        self.assertEqual([b["volume"] for b in h["bars"]], [200, 200, 200, 200, 100])

    def test_yahoo_events_csv_with_the_symbol_in_the_query(self):
        """Yahoo's events downloads ("Date,Stock Splits", "Date,Dividends") have no symbol
        column: ?symbol= names it; without it each line is an invalid_symbol item."""
        h = {"X-API-Key": KEY, "Content-Type": "text/csv"}
        url = self.agent.url + "/ingest/actions"
        r = curl(url + "?symbol=yevp", method="POST", headers=h,
                 data="Date,Stock Splits\n2020-08-31,4:1\n2014-06-09,7:1\n")
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json()["accepted"], r.json()["rejected"]), (2, 0), r.json())
        r = curl(url + "?symbol=YEVP", method="POST", headers=h,
                 data="Date,Dividends\n2024-02-09,0.24\n2023-11-10,x\n")
        self.assertEqual((r.json()["accepted"], r.json()["rejected"]), (1, 1), r.json())
        self.assertEqual(r.json()["errors"][0]["index"], 1)
        r = curl(url, method="POST", headers=h, data="Date,Dividends\n2024-02-09,0.24\n")
        self.assertEqual(r.json()["errors"][0]["code"], "invalid_symbol", r.json())
        acts = self.get_json("/actions/YEVP?cached_only=true")["actions"]
        got = sorted((a["type"], a["ex_date"], a.get("numerator"), a.get("denominator"),
                      a.get("amount")) for a in acts)
        self.assertEqual(got, [("dividend", "2024-02-09", None, None, 0.24),
                               ("split", "2014-06-09", 7, 1, None),
                               ("split", "2020-08-31", 4, 1, None)], acts)

    def test_csv_body(self):
        body = "date,open,high,low,close,volume\n2024-03-01,1,2,0.5,1.5,10\n2024-03-04,1,2,0.5,1.75,10\n2024-03-05,a,2,1,1,1\n"
        r = self.post_csv("?symbol=csvb", body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["accepted"], 2)
        self.assertEqual(r.json()["errors"][0]["index"], 2)
        self.assertEqual(self.get_json("/historical/CSVB")["count"], 2)
        # a BOM, CRLF line ends and blank lines before the header (load skips them too)
        body = "\ufeff\r\n \r\nDate,Open,High,Low,Close\r\n2024-03-01,1,2,0.5,1.5\r\n\r\n"
        r = self.post_csv("?symbol=csvl", body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json()["accepted"], r.json()["rejected"]), (1, 0), r)

    def test_csv_interval_column(self):
        # hourly bars a day apart (spacing alone says 1d): the column is read, not a guess; a
        # daily bar stamped 14:00 is checked as daily (unaligned); an unknown interval is its row's
        body = ("symbol,interval,date,open,high,low,close,volume\n"
                "csvi,1h,2024-03-01T00:00:00Z,1,2,0.5,1.5,10\ncsvi,1h,2024-03-02T00:00:00Z,1,2,0.5,1.5,10\n"
                "csvi,1d,2024-03-04T14:00:00Z,1,2,0.5,1.5,10\ncsvi,2d,2024-03-05,1,2,0.5,1.5,10\n")
        r = self.post_csv("", body)
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual((doc["accepted"], doc["rejected"]), (2, 2), doc)
        self.assertEqual([(e["index"], e["code"]) for e in doc["errors"]],
                         [(2, "unaligned_timestamp"), (3, "invalid_csv")], doc)
        self.assertIn("interval: '2d'", doc["errors"][1]["message"])
        self.assertEqual(self.get_json("/historical/CSVI?interval=1h&start=2024-03-01&end=2024-03-03")["count"], 2)

    def intervals(self, symbol):
        """{interval: stored bars} of a symbol, from GET /symbols."""
        for s in self.get_json("/symbols")["symbols"]:
            if s["symbol"] == symbol:
                return {i["interval"]: i["count"] for i in s["intervals"]}
        return {}

    def test_csv_newest_first_costs_what_oldest_first_does(self):
        # downloads often run newest first; inferring the interval sorted each symbol's
        # timestamps by insertion, quadratic in the rows: 150,000 took minutes, not seconds
        n = 150000
        t0 = 1577836800  # 2020-01-01
        rows = [f"{t0 + 60 * i},1,2,0.5,1.5,{i}" for i in range(n)]
        took = {}
        for sym, order in (("CSVASC", rows), ("CSVDESC", rows[::-1])):
            body = "timestamp,open,high,low,close,volume\n" + "\n".join(order) + "\n"
            start = time.monotonic()
            r = self.post_csv(f"?symbol={sym}", body, headers={"Expect": ""}, timeout=300)
            took[sym] = time.monotonic() - start
            self.assertEqual(r.status, 200, r)
            self.assertEqual((r.json()["accepted"], r.json()["rejected"]), (n, 0), r)
        self.assertLess(took["CSVDESC"], 3 * took["CSVASC"] + 5, took)
        h = self.get_json("/historical/CSVDESC?interval=1m&cached_only=true&order=desc&limit=1")
        self.assertEqual(h["bars"][0]["volume"], n - 1)
        self.assertEqual(self.intervals("CSVDESC"), {"1m": n})

    def test_csv_interval_column_is_kept_beside_inferred_rows(self):
        # rows naming their interval keep it; only the others are inferred (their spacing: 1d).
        # The weekly rows were inferred along with the daily ones and stored as 1d bars
        body = ("symbol,interval,date,open,high,low,close,volume\n"
                "csvw,1w,2024-03-04,1,2,0.5,1.5,10\ncsvw,,2024-03-05,1,2,0.5,1.5,10\n"
                "csvw,,2024-03-06,1,2,0.5,1.5,10\ncsvw,1w,2024-03-11,1,2,0.5,1.5,10\n")
        r = self.post_csv("", body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json()["accepted"], r.json()["rejected"]), (4, 0), r)
        self.assertEqual(self.intervals("CSVW"), {"1w": 2, "1d": 2})

    def test_malformed_bodies(self):
        for body in ("{", "[]", '{"bars": 5}', "", '{"bars":[1,2]}'):
            r = self.post("/ingest/bars", body)
            if body == '{"bars":[1,2]}':
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json()["rejected"], 2)
            else:
                self.assertEqual(r.status, 400, (body, r))
                self.assertEqual(r.json()["error"]["code"], "invalid_json", r)

    def test_quotes_update_price_newest_wins(self):
        now = int(time.time())
        q = {"quotes": [{"symbol": "QTE", "price": 101.25, "timestamp": now - 10, "bid": 101.2, "ask": 101.3},
                        {"symbol": "QTE", "price": -1, "timestamp": now - 5},
                        {"symbol": "QTE", "price": 99, "timestamp": now + 3600}]}
        r = self.post("/ingest/quotes", q)
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual(doc["accepted"], 1, doc)
        self.assertEqual({e["code"] for e in doc["errors"]}, {"non_positive_price", "future_timestamp"})
        p = self.get_json("/price/QTE")
        self.assertEqual(p["price"], 101.25)
        self.assertEqual(p["bid"], 101.2)
        self.assertEqual(p["source"], "ingest")
        # an older quote does not replace a newer one
        self.post("/ingest/quotes", {"quotes": [{"symbol": "QTE", "price": 50, "timestamp": now - 100}]})
        self.assertEqual(self.get_json("/price/QTE")["price"], 101.25)
        self.post("/ingest/quotes", {"quotes": [{"symbol": "QTE", "price": 102, "timestamp": now - 1}]})
        self.assertEqual(self.get_json("/price/QTE")["price"], 102)

    def test_quotes_are_scored_against_the_previous_price(self):
        now = int(time.time())

        def quote(price, ago, **kw):
            r = self.post("/ingest/quotes", {"quotes": [dict(symbol="QSC", price=price, timestamp=now - ago, **kw)]})
            self.assertEqual(r.json()["accepted"], 1, r)
            return self.get_json("/price/QSC?max_age=0")["quality"]

        self.assertEqual(quote(100, 60), {"score": 100, "grade": "A+"})  # nothing to compare with
        self.assertEqual(quote(109.5, 50)["score"], 100)                   # within 10%
        jump = quote(140, 40)                                                # +27.9%: quote_jump
        self.assertLess(jump["score"], 100)
        self.assertEqual(jump["score"], 80)
        self.assertEqual(jump["grade"], "B-")
        self.assertEqual(quote(141, 30)["score"], 100)  # the new level is the reference now
        wide = quote(141, 20, bid=130, ask=150)        # spread 14% of the mid: wide_spread
        self.assertLess(wide["score"], 100)
        self.assertGreater(wide["score"], jump["score"])  # consistency weighs 0.15, accuracy 0.20

    def test_body_too_large(self):
        big = '{"bars":[' + ",".join(['{"symbol":"A"}'] * 700000) + "]}"
        r = self.post("/ingest/bars", big)
        self.assertEqual(r.status, 413, r)
        self.assertEqual(r.json()["error"]["code"], "payload_too_large")


class NoKeys(AgentTest):
    load_sample = False

    def test_write_endpoints_need_configured_keys(self):
        r = self.agent.post("/ingest/bars", '{"bars":[]}', headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.json()["error"]["code"], "auth_not_configured")


class InsecureDev(AgentTest):
    load_sample = False
    args = ("--insecure-dev",)

    def test_insecure_dev_allows_writes_without_keys(self):
        r = self.agent.post("/ingest/bars", '{"bars":[]}', headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 200, r)


if __name__ == "__main__":
    unittest.main()
