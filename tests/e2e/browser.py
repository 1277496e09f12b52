"""Runs a browser test (node --test FILE.mjs, playwright-core driving Debian's Chromium)
against a real agent: the sample data loaded, the test Redis as its cache when the services
fixture runs, an API key for the ingest endpoints, and one screen (pipeline.jobs) over four
of the sample's indices for the screens panel and the correlation heat map.

    python3 browser.py dashboard.test.mjs

The test file gets MDTEST_AGENT_URL, MDTEST_API_KEY, MDTEST_WEB (web/ with node_modules),
MDTEST_OUT (where screenshots go) and MDTEST_CHROMIUM. With the test Redis a second, empty
agent joins the same deployment (one cache prefix: one namespace), and MDTEST_PEER_URL names
it, for the deployment panel (GET /cluster). Exit status: node's, or 1 when the
agent did not stop cleanly (crash or sanitizer report)."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdtest import SAMPLE, SRC, TMP, Agent, free_port, services  # noqa: E402

API_KEY = "browser-test-key-0123456789"


def main(test_file):
    chromium = os.environ.get("MDTEST_CHROMIUM", "/usr/bin/chromium")
    web = os.path.join(SRC, "web")
    if not os.access(chromium, os.X_OK):
        print(f"browser test: {chromium} not found: run scripts/install-deps.sh --browser", file=sys.stderr)
        return 1
    if not os.path.isdir(os.path.join(web, "node_modules", "playwright-core")):
        print("browser test: web/node_modules missing: run scripts/install-deps.sh", file=sys.stderr)
        return 1
    args = []
    redis = services().get("MDTEST_REDIS_URL")
    if redis:
        args += ["--redis", redis]
    # one provider enabled but unreachable (nothing listens on that port): the sources panel
    # has a real row, and a call the page made the agent send would show in its counters
    # polygon has no key here: a disabled source, which the page must show as disabled
    env = {"MDAGENT_API_KEYS": API_KEY, "MDAGENT_SOURCES_PRIORITY": "yahoo,polygon",
           "MDAGENT_YAHOO_URL": f"http://127.0.0.1:{free_port()}"}
    if redis:  # one deployment: the agent and its peer share a namespace
        env["MDAGENT_CACHE_PREFIX"] = f"test:browser-{os.getpid()}:"
    agent = Agent(env=env, args=args, name="browser")
    peer = Agent(env=env, args=args, name="browser-peer") if redis else None
    config = os.path.join(agent.dir, "mdagent.yaml")
    with open(config, "w") as f:
        f.write("pipeline:\n  jobs:\n    eu:\n      schedule: every 2s\n"
                "      symbols: [DAX, SMI, CAC, FTSE]\n      condition: close > sma:20\n")
    agent.args += ["--config", config]
    rc = 1
    try:
        agent.load(SAMPLE)
        agent.start()
        if peer:
            peer.start()
        out = os.environ.get("MDTEST_OUT") or os.path.join(TMP, "screenshots")
        os.makedirs(out, exist_ok=True)
        env = dict(os.environ, MDTEST_AGENT_URL=agent.url, MDTEST_API_KEY=API_KEY, MDTEST_WEB=web,
                   MDTEST_OUT=out, MDTEST_CHROMIUM=chromium, MDTEST_PEER_URL=peer.url if peer else "")
        test = os.path.join(os.path.dirname(os.path.abspath(__file__)), test_file)
        rc = subprocess.run(["node", "--test", "--test-reporter=spec", test], env=env, timeout=480).returncode
    finally:
        problem = peer.finish() if peer else None
        if problem:
            print(f"peer {problem}", file=sys.stderr)
            rc = rc or 1
        code = agent.stop()
        logs = agent.logs()
        agent.cleanup()
        if "ERROR: AddressSanitizer" in logs or "runtime error:" in logs or code not in (0, None):
            print(f"agent exit {code} or sanitizer report:\n{logs[-4000:]}", file=sys.stderr)
            rc = rc or 1
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "dashboard.test.mjs"))
