"""End to end: the agent serves the dashboard's files over HTTP (curl) - the page, its own
scripts and styles, the chart libraries from web/node_modules - with the right Content-Type,
HEAD answers, JSON 404s, and no way out of the directory (.., encoded .., absolute paths,
backslashes, hidden files, package files, symlinks)."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from mdtest import SRC, Agent, AgentTest, curl

WEB = os.path.join(SRC, "web")
LWC = "lib/lightweight-charts/lightweight-charts.standalone.production.mjs"
UPLOT = "lib/uplot/uPlot.esm.js"


def raw(url, method="GET"):
    """One request with the path sent exactly as written (no client-side normalising)."""
    if method == "HEAD":
        return head_request(url)
    cmd = ["curl", "-sS", "--path-as-is", "-g", "-D", "-", "--max-time", "10", "-X", method, url]
    p = subprocess.run(cmd, capture_output=True, timeout=15)
    return split_response(p.stdout.decode(errors="replace"))


def head_request(url):
    """HEAD over a plain socket, reading to the end, so any body bytes would show."""
    hostport, _, path = url.removeprefix("http://").partition("/")
    host, _, port = hostport.partition(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(f"HEAD /{path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return split_response(data.decode(errors="replace"))


def split_response(out):
    head, _, body = out.partition("\r\n\r\n")
    lines = head.split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/") else 0
    hdrs = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, body


def read(rel):
    with open(os.path.join(WEB, rel), "rb") as f:
        return f.read()


class DashboardFiles(AgentTest):
    load_sample = False

    def assert_not_found_json(self, path):
        r = self.get(path)
        self.assertEqual(r.status, 404, (path, r))
        self.assertTrue(r.headers.get("content-type", "").startswith("application/json"), (path, r.headers))
        err = r.json()["error"]
        self.assertEqual(err["code"], "not_found", (path, err))
        self.assertTrue(err["message"], path)

    def test_page_is_html_with_a_content_security_policy(self):
        r = self.get("/dashboard")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["content-type"], "text/html; charset=utf-8")
        self.assertEqual(r.body.encode(), read("index.html"))
        self.assertIn('src="/dashboard/js/main.js"', r.body)
        self.assertEqual(r.headers.get("x-content-type-options"), "nosniff")
        csp = r.headers.get("content-security-policy", "")
        self.assertIn("default-src 'self'", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        # the page talks to its own origin only (its /stream too: 'self' covers ws: there)
        self.assertIn("connect-src 'self';", csp)
        self.assertNotIn("ws:", csp)
        # the same page with a trailing slash and by name
        self.assertEqual(self.get("/dashboard/").body, r.body)
        self.assertEqual(self.get("/dashboard/index.html").body, r.body)

    def test_own_files_have_their_content_type_and_exact_bytes(self):
        cases = {
            "js/main.js": "text/javascript; charset=utf-8",
            "js/prom.js": "text/javascript; charset=utf-8",
            "css/dashboard.css": "text/css; charset=utf-8",
            "favicon.svg": "image/svg+xml",
        }
        for rel, ctype in cases.items():
            r = self.get("/dashboard/" + rel)
            self.assertEqual(r.status, 200, (rel, r))
            self.assertEqual(r.headers["content-type"], ctype, rel)
            self.assertEqual(r.body.encode(), read(rel), rel)
            self.assertEqual(int(r.headers["content-length"]), len(read(rel)), rel)

    def test_chart_libraries_come_from_node_modules_dist(self):
        for rel, dist, ctype in (
            (LWC, "node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.mjs",
             "text/javascript; charset=utf-8"),
            (UPLOT, "node_modules/uplot/dist/uPlot.esm.js", "text/javascript; charset=utf-8"),
            ("lib/uplot/uPlot.min.css", "node_modules/uplot/dist/uPlot.min.css", "text/css; charset=utf-8"),
        ):
            self.assertTrue(os.path.exists(os.path.join(WEB, dist)),
                            f"{dist} missing: run scripts/install-deps.sh (npm ci in web/)")
            r = self.get("/dashboard/" + rel)
            self.assertEqual(r.status, 200, (rel, r.status))
            self.assertEqual(r.headers["content-type"], ctype, rel)
            self.assertEqual(int(r.headers["content-length"]), len(read(dist)), rel)

    def test_routes_json_lists_this_agents_routes_and_libraries(self):
        r = self.get("/dashboard/routes.json")
        self.assertEqual(r.status, 200, r)
        j = r.json()
        paths = {x["path"]: x["methods"] for x in j["routes"]}
        for p in ("/health", "/symbols", "/historical/{symbol}", "/metrics", "/dashboard", "/dashboard/{path}"):
            self.assertIn(p, paths)
        self.assertEqual(paths["/ingest/bars"], ["POST"])
        self.assertEqual(j["libs"]["lightweight-charts"], "/dashboard/" + LWC)
        self.assertEqual(j["libs"]["uplot"], "/dashboard/" + UPLOT)
        self.assertEqual(j["version"], self.get_json("/health")["version"])

    def test_head_has_the_get_headers_and_no_body(self):
        for rel in ("", "/js/main.js", "/" + UPLOT):
            g = self.get("/dashboard" + rel)
            status, hdrs, body = raw(self.agent.url + "/dashboard" + rel, method="HEAD")
            self.assertEqual(status, 200, rel)
            self.assertEqual(hdrs["content-type"], g.headers["content-type"], rel)
            self.assertEqual(int(hdrs["content-length"]), len(g.body.encode()), rel)
            self.assertEqual(body, "", rel)
        status, hdrs, body = raw(self.agent.url + "/dashboard/nope.js", method="HEAD")
        self.assertEqual(status, 404)
        self.assertEqual(body, "")

    def test_missing_files_are_json_404(self):
        for p in ("/dashboard/nope.js", "/dashboard/js/nope.js", "/dashboard/lib/uplot/nope.js",
                  "/dashboard/lib/unknown/x.js", "/dashboard/js", "/dashboard/lib/uplot"):
            self.assert_not_found_json(p)

    def test_package_files_node_modules_and_hidden_files_are_not_served(self):
        for p in ("/dashboard/package.json", "/dashboard/package-lock.json",
                  "/dashboard/node_modules/uplot/package.json",
                  "/dashboard/node_modules/playwright-core/package.json",
                  "/dashboard/lib/uplot/package.json",  # lib/uplot/ is dist/ only
                  "/dashboard/node_modules/.mdagent-installed", "/dashboard/.gitignore"):
            self.assert_not_found_json(p)

    def test_traversal_attempts_never_leave_the_directory(self):
        attempts = [
            "/dashboard/../../etc/passwd",
            "/dashboard/%2e%2e/%2e%2e/etc/passwd",
            "/dashboard/%2E%2E/%2E%2E/etc/passwd",
            "/dashboard/..%2f..%2fetc%2fpasswd",
            "/dashboard/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
            "/dashboard/js/../../../../etc/passwd",
            "/dashboard/lib/uplot/../../package.json",
            "/dashboard/lib/uplot/%2e%2e/%2e%2e/package.json",
            "/dashboard/lib/uplot/..%2f..%2f..%2fpackage.json",
            "/dashboard//etc/passwd",
            "/dashboard/%2fetc%2fpasswd",
            "/dashboard/%5c..%5c..%5cetc%5cpasswd",
            "/dashboard/..%5c..%5cetc%5cpasswd",
            "/dashboard/.%2e/.%2e/etc/passwd",
            "/dashboard/%252e%252e/%252e%252e/etc/passwd",
            "/dashboard/js/%00main.js",
            "/dashboard/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
        ]
        for p in attempts:
            status, hdrs, body = raw(self.agent.url + p)
            self.assertIn(status, (400, 403, 404), (p, status, body[:200]))
            self.assertNotIn("root:", body, p)
            self.assertNotIn('"lightweight-charts"', body, p)  # not package.json either
            if status == 404 and hdrs.get("content-type", "").startswith("application/json"):
                self.assertEqual(json.loads(body)["error"]["code"], "not_found", p)
        # the agent is still fine
        self.assertEqual(self.get("/dashboard").status, 200)

    def test_other_methods_are_405(self):
        r = curl(self.agent.url + "/dashboard/js/main.js", method="POST", data="x")
        self.assertEqual(r.status, 405, r)
        self.assertIn("GET", r.headers.get("allow", ""))
        self.assertEqual(r.json()["error"]["code"], "method_not_allowed")


class DashboardDir(unittest.TestCase):
    """dashboard.dir: a directory of one's own, symlinks out of it, edits, switched off."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="md-dashdir-", dir=os.environ.get("MDTEST_TMP"))
        cls.web = os.path.join(cls.tmp, "web")
        os.makedirs(os.path.join(cls.web, "js"))
        with open(os.path.join(cls.web, "index.html"), "w") as f:
            f.write("<!doctype html><title>mine</title>")
        with open(os.path.join(cls.web, "js", "a.js"), "w") as f:
            f.write("export const v = 1;\n")
        with open(os.path.join(cls.tmp, "secret.txt"), "w") as f:
            f.write("top secret")
        os.symlink(os.path.join(cls.tmp, "secret.txt"), os.path.join(cls.web, "leak.txt"))
        os.symlink("/etc", os.path.join(cls.web, "etc"))
        os.symlink("js/a.js", os.path.join(cls.web, "alias.js"))
        cls.agent = Agent(env={"MDAGENT_DASHBOARD_DIR": cls.web}, name="dashdir").start()

    @classmethod
    def tearDownClass(cls):
        cls.agent.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_serves_the_configured_directory(self):
        r = self.agent.get("/dashboard")
        self.assertEqual(r.status, 200, r)
        self.assertIn("<title>mine</title>", r.body)

    def test_symlinks_out_of_the_directory_are_404(self):
        for p in ("/dashboard/leak.txt", "/dashboard/etc/passwd", "/dashboard/etc/hostname"):
            r = self.agent.get(p)
            self.assertEqual(r.status, 404, (p, r))
            self.assertNotIn("top secret", r.body)
            self.assertEqual(r.json()["error"]["code"], "not_found")
        r = self.agent.get("/dashboard/alias.js")
        self.assertEqual(r.status, 200, "a symlink that stays inside is served")
        self.assertEqual(r.body, "export const v = 1;\n")

    def test_missing_libraries_show_in_routes_json(self):
        j = self.agent.get("/dashboard/routes.json").json()
        self.assertIsNone(j["libs"]["lightweight-charts"])
        self.assertIsNone(j["libs"]["uplot"])

    def test_an_edited_file_is_served_fresh(self):
        path = os.path.join(self.web, "js", "b.js")
        with open(path, "w") as f:
            f.write("old\n")
        self.assertEqual(self.agent.get("/dashboard/js/b.js").body, "old\n")
        with open(path, "w") as f:
            f.write("new and longer\n")
        deadline = time.time() + 10  # the cache rechecks a file once a second
        body = ""
        while time.time() < deadline:
            body = self.agent.get("/dashboard/js/b.js").body
            if body == "new and longer\n":
                break
            time.sleep(0.2)
        self.assertEqual(body, "new and longer\n")


class DashboardOff(unittest.TestCase):
    def test_disabled_dashboard_is_404(self):
        agent = Agent(env={"MDAGENT_DASHBOARD_ENABLED": "false"}, name="dashoff").start()
        try:
            for p in ("/dashboard", "/dashboard/js/main.js"):
                r = agent.get(p)
                self.assertEqual(r.status, 404, r)
                self.assertIn("dashboard.enabled", r.json()["error"]["message"])
            self.assertEqual(agent.get("/health").status, 200)
        finally:
            agent.cleanup()

    def test_missing_directory_is_404_with_the_key_to_set(self):
        agent = Agent(args=["--dashboard-dir", "/nonexistent/mdagent-web"], name="dashmissing").start()
        try:
            r = agent.get("/dashboard")
            self.assertEqual(r.status, 404, r)
            self.assertIn("/nonexistent/mdagent-web", r.json()["error"]["message"])
        finally:
            agent.cleanup()


if __name__ == "__main__":
    unittest.main()
