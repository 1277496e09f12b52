"""End to end: details of docs/API.md a client relies on that the feature tests do not
pin down - HTTP framing (405 Allow, HEAD, a chunked body), both API-key headers, every
time form of the Conventions, the Prometheus text format, ingest rejections in the
metrics - checked against the real binary over curl."""
import re
import subprocess

from mdtest import AgentTest, curl

KEY = "conf-key-1"

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE_LINE = re.compile(r"^(%s)(\{%s(?:,%s)*\})? (\S+)$" % (NAME, LABEL, LABEL))


def prometheus_problems(text):
    """Checks the Prometheus text exposition format 0.0.4: every sample line is
    `name{labels} value`, every family has one TYPE (before its samples) and at most one
    HELP, a family's samples are contiguous, no series repeats, histograms have
    cumulative buckets ending in +Inf plus _sum and _count. Returns the problems found."""
    problems = []
    if not text.endswith("\n"):
        problems.append("no final newline")
    types, helps, series, finished = {}, set(), set(), set()
    current = None
    buckets = {}
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("#"):
            m = re.match(r"^# (HELP|TYPE) (%s)(?: (.*))?$" % NAME, line)
            if not m:
                if line.startswith(("# HELP", "# TYPE")):
                    problems.append(f"{n}: bad {line!r}")
                continue
            kind, name, rest = m.groups()
            if kind == "TYPE":
                if name in types:
                    problems.append(f"{n}: second TYPE for {name}")
                if rest not in ("counter", "gauge", "histogram", "summary", "untyped"):
                    problems.append(f"{n}: unknown type {rest!r}")
                if any(s[0] == name for s in series):
                    problems.append(f"{n}: TYPE after samples of {name}")
                types[name] = rest
            else:
                if name in helps:
                    problems.append(f"{n}: second HELP for {name}")
                helps.add(name)
            continue
        m = SAMPLE_LINE.match(line)
        if not m:
            problems.append(f"{n}: not a sample line: {line!r}")
            continue
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        try:
            v = float(value)
        except ValueError:
            problems.append(f"{n}: bad value in {line!r}")
            continue
        family = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and types.get(name[: -len(suffix)]) == "histogram":
                family = name[: -len(suffix)]
        if family not in types:
            problems.append(f"{n}: {name} has no TYPE")
        if family != current:
            if family in finished:
                problems.append(f"{n}: samples of {family} are not contiguous")
            if current:
                finished.add(current)
            current = family
        if (name, labels) in series:
            problems.append(f"{n}: repeated series {line!r}")
        series.add((name, labels))
        if name.endswith("_bucket") and family != name:
            le = re.search(r'le="([^"]*)"', labels)
            rest = re.sub(r',?le="[^"]*"', "", labels).replace("{,", "{")
            rest = "" if rest == "{}" else rest
            buckets.setdefault((family, rest), []).append((le.group(1) if le else None, v))
    for (family, rest), bs in buckets.items():
        if bs[-1][0] != "+Inf":
            problems.append(f"{family}{rest}: last bucket is not +Inf")
        counts = [c for _, c in bs]
        if counts != sorted(counts):
            problems.append(f"{family}{rest}: buckets not cumulative")
        if (family + "_count", rest) not in series or (family + "_sum", rest) not in series:
            problems.append(f"{family}{rest}: _sum or _count missing")
    return problems


class ApiConformance(AgentTest):
    env = {"MDAGENT_API_KEYS": KEY + ",conf-key-2"}

    def post_json(self, path, body, headers=None):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        return curl(self.agent.url + path, method="POST", data=body, headers=h)

    # -- HTTP framing -------------------------------------------------------------------

    def test_405_allow_lists_head_for_get_routes(self):
        r = curl(self.agent.url + "/symbols", method="POST", data="")
        self.assertEqual(r.status, 405, r)
        allow = [m.strip() for m in r.headers["allow"].split(",")]
        self.assertEqual(sorted(allow), ["GET", "HEAD", "OPTIONS"])
        r = curl(self.agent.url + "/ingest/bars", method="GET")
        self.assertEqual(r.status, 405, r)
        self.assertEqual(r.headers["allow"], "POST, OPTIONS")
        self.assertEqual(r.json()["error"]["code"], "method_not_allowed")

    def test_head_answers_headers_of_get_without_body(self):
        path = "/historical/MSFT?start=2001-09-20&end=2001-09-25&format=csv"
        g = self.get(path)
        p = subprocess.run(["curl", "-sS", "-I", "--max-time", "10", self.agent.url + path],
                           capture_output=True, text=True, timeout=20)
        head = p.stdout.splitlines()
        self.assertIn(" 200 ", head[0] + " ")
        hdrs = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in head[1:]) if v}
        self.assertTrue(hdrs["content-type"].startswith("text/csv"), hdrs)
        self.assertEqual(int(hdrs["content-length"]), len(g.body.encode()))

    def test_chunked_body_gets_411_not_a_hang(self):
        # chunked request bodies are not read: the agent must answer at once (411), not hang
        # instead of waiting for a body that never arrives
        body = '{"bars":[]}'
        r = curl(self.agent.url + "/ingest/bars", method="POST", data=body, timeout=10,
                 headers={"Content-Type": "application/json", "X-API-Key": KEY,
                          "Transfer-Encoding": "chunked"})
        self.assertEqual(r.status, 411, r)
        self.assertEqual(r.json()["error"]["code"], "length_required")
        # the same body with a Content-Length is fine, and the agent still answers
        r = self.post_json("/ingest/bars", body, headers={"X-API-Key": KEY})
        self.assertEqual(r.status, 200, r)

    # -- API keys -----------------------------------------------------------------------

    def test_both_key_headers_and_other_schemes(self):
        ok = {"accepted": 0, "rejected": 0, "errors": []}
        for headers in ({"Authorization": f"Bearer {KEY}"}, {"authorization": f"bearer {KEY}"},
                        {"X-API-Key": KEY}, {"x-api-key": "conf-key-2"},
                        {"X-API-Key": f"  {KEY}  "},
                        # a Basic header meant for a proxy does not hide the X-API-Key
                        {"Authorization": "Basic dXNlcjpwYXNz", "X-API-Key": KEY}):
            r = self.post_json("/ingest/bars", '{"bars":[]}', headers=headers)
            self.assertEqual(r.status, 200, (headers, r))
            self.assertEqual(r.json(), ok)
        for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"},
                        {"Authorization": "Basic dXNlcjpwYXNz"},
                        {"Authorization": "Bearer wrong", "X-API-Key": KEY}):
            r = self.post_json("/ingest/bars", '{"bars":[]}', headers=headers)
            self.assertEqual(r.status, 401, (headers, r))
            self.assertEqual(r.json()["error"]["code"], "unauthorized")

    # -- Conventions: time forms ----------------------------------------------------------

    def test_every_documented_time_form_selects_the_same_bars(self):
        want = ["2001-09-20T00:00:00Z", "2001-09-21T00:00:00Z", "2001-09-24T00:00:00Z"]
        starts = ["2001-09-20", "2001-09-20T00:00:00Z", "2001-09-20T00:00:00.000Z",
                  "2001-09-20T02:00:00%2B02:00", "2001-09-19T20:00:00-04:00", "1000944000",
                  "2001-09-20T02:00:00+02:00"]  # a raw '+' that URL decoding made a space
        for s in starts:
            doc = self.get_json(f"/historical/MSFT?start={s}&end=2001-09-25")
            self.assertEqual([b["timestamp"] for b in doc["bars"]], want, s)
        for bad in ("2001-02-30", "2001-13-01", "2001-09-20T25:00:00Z", "yesterday", "1e9"):
            self.assert_error(f"/historical/MSFT?start={bad}", 400, "invalid_time_range")

    def test_format_is_case_insensitive_and_cached_only_is_a_flag(self):
        r = self.get("/historical/MSFT?start=2001-09-20&end=2001-09-22&format=CSV")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers["content-type"].startswith("text/csv"))
        self.assertEqual(r.body.splitlines()[0],
                         "timestamp,open,high,low,close,volume,source,quality,partial")
        doc = self.get_json("/historical/MSFT?start=2001-09-20&end=2001-09-22&cached_only")
        self.assertEqual(doc["count"], 2)
        self.assertEqual(doc["from"], "store")
        self.assert_error("/historical/MSFT?cached_only=maybe", 400, "invalid_parameter")
        # one reading of the flag on every route that takes it
        for path in ("/analytics/returns?symbols=MSFT&", "/analytics/correlation?symbols=MSFT,DAX&",
                     "/analytics/MSFT/summary?", "/actions/MSFT?"):
            body = self.assert_error(path + "cached_only=maybe", 400, "invalid_parameter")
            self.assertIn("cached_only: 'maybe'", body["error"]["message"])
            self.assertEqual(curl(self.agent.url + path + "cached_only=NO").status, 200, path)

    # -- metrics --------------------------------------------------------------------------

    def test_ingest_rejections_of_every_kind_are_counted(self):
        body = ('{"bars":[{"symbol":"B@D","interval":"1d","timestamp":"2024-03-01",'
                '"open":1,"high":2,"low":0.5,"close":1.5,"volume":1},'
                '{"symbol":"CONFX","interval":"2d","timestamp":"2024-03-01",'
                '"open":1,"high":2,"low":0.5,"close":1.5,"volume":1},'
                '{"symbol":"CONFX","interval":"1d","timestamp":"2024-03-01",'
                '"open":1,"high":0.5,"low":1,"close":1,"volume":1}]}')
        r = self.post_json("/ingest/bars", body, headers={"X-API-Key": KEY})
        self.assertEqual(r.status, 200, r)
        codes = [e["code"] for e in r.json()["errors"]]
        self.assertEqual(codes, ["invalid_symbol", "invalid_interval", "high_below_low"])
        m = self.get("/metrics").body
        for reason in codes:
            self.assertRegex(m, r'mdagent_ingest_rejected_total\{reason="%s"\} [1-9]' % reason)

    def test_metrics_are_valid_prometheus_text(self):
        # traffic that fills labelled families: routes, statuses, cache levels, rejections
        self.get("/price/MSFT")
        self.get("/price/MSFT")
        self.get("/historical/NOPE")
        self.get("/no/such/route")
        self.post_json("/ingest/bars", '{"bars":[{"symbol":"x y"}]}', headers={"X-API-Key": KEY})
        r = self.get("/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["content-type"].startswith("text/plain"), r.headers)
        self.assertEqual(prometheus_problems(r.body), [])
        names = set(re.findall(r"^# TYPE (\S+) (\S+)$", r.body, re.M))
        for name, kind in (("mdagent_http_requests_total", "counter"),
                           ("mdagent_http_request_duration_seconds", "histogram"),
                           ("mdagent_source_requests_total", "counter"),
                           ("mdagent_source_circuit_state", "gauge"),
                           ("mdagent_cache_requests_total", "counter"),
                           ("mdagent_store_write_rows_total", "counter"),
                           ("mdagent_ingest_rejected_total", "counter"),
                           ("mdagent_stream_clients", "gauge"),
                           ("mdagent_stream_messages_total", "counter"),
                           ("mdagent_stream_dropped_total", "counter"),
                           ("mdagent_quality_score", "gauge")):
            self.assertIn((name, kind), names)
        self.assertRegex(r.body, r'mdagent_cache_requests_total\{level="l1",result="hit"\} [1-9]')
        self.assertRegex(r.body, r'mdagent_http_requests_total\{route="\(unknown\)",status="404"\} 1')

    def test_prometheus_checker_catches_bad_text(self):
        good = ("# HELP a_total x\n# TYPE a_total counter\na_total{k=\"v\"} 1\n"
                "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
                "h_sum 3\nh_count 2\n")
        self.assertEqual(prometheus_problems(good), [])
        self.assertTrue(prometheus_problems("a_total 1\n"))  # no TYPE
        self.assertTrue(prometheus_problems("# TYPE a gauge\na{k=v} 1\n"))  # unquoted label
        self.assertTrue(prometheus_problems("# TYPE a gauge\na 1\na 2\n"))  # repeated series
        self.assertTrue(prometheus_problems(good.replace('le="+Inf"} 2', 'le="+Inf"} 0')))


if __name__ == "__main__":
    import unittest
    unittest.main()
