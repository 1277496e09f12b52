"""End to end: the first hour of a new user, with the real binary.

Every flag a command takes is in `mdagent help` and in `mdagent COMMAND --help` (the flags
are read from the command sources and the config table, not from the help itself), and
every subcommand is in the README; `load --quiet` prints nothing for a clean load; `serve`,
`query` and `fetch` on a missing SQLite file say so and create nothing (`--create`, `load`
and `migrate` do); a misspelt source in mdagent.yaml is reported with file and line; a long
error message reaches the user whole; `make run` builds the binary alone, quietly."""
import glob
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from mdtest import BIN, SAMPLE, SRC, TMP, run_cli

COMMANDS = ["serve", "load", "fetch", "query", "migrate", "config"]


def command_flags(name):
    """The flags a command's source file names in string literals ("--symbol")."""
    path = os.path.join(SRC, "src", "cli", f"cmd_{name}.c")
    if not os.path.exists(path):  # config lives in main.c
        path = os.path.join(SRC, "src", "cli", "main.c")
        text = open(path).read()
        text = text[text.index("config_opts[]"):text.index("static int cmd_config")]
    else:
        text = open(path).read()
    return sorted(set(re.findall(r'"(--[a-z][a-z-]*)"', text)))


def config_flags():
    """The flag column of src/core/config.def."""
    text = open(os.path.join(SRC, "src", "core", "config.def")).read()
    return sorted(set(re.findall(r'^MD_CONF\([^"]*"[^"]*",\s*(?:"[^"]*"|NULL),\s*"(--[a-z-]+)"', text, re.M)))


class Help(unittest.TestCase):
    def test_every_flag_is_in_the_help(self):
        self.assertGreater(len(config_flags()), 5)
        everything = run_cli("help").stdout
        for name in COMMANDS:
            flags = command_flags(name)
            self.assertTrue(flags or name == "serve", name)
            own = run_cli(name, "--help").stdout
            self.assertIn(f"usage: mdagent {name}", own)
            self.assertEqual(run_cli("help", name).stdout, own)
            for flag in flags + config_flags() + ["--config", "--set"]:
                self.assertRegex(own, rf"(?m)^\s+{re.escape(flag)}\b", f"{name} --help lacks {flag}")
                self.assertRegex(everything, rf"(?m)^\s+{re.escape(flag)}\b", f"help lacks {flag}")
            self.assertRegex(everything, rf"(?m)^\s+{name}\b", f"help lacks the {name} command")
        self.assertIn("--print-config", run_cli("serve", "--help").stdout)
        self.assertIn("--create", run_cli("serve", "--help").stdout)

    def test_config_prints_its_file_on_one_line(self):
        d = tempfile.mkdtemp(prefix="md-firsthour-", dir=TMP)
        try:
            path = os.path.join(d, "md.yaml")
            with open(path, "w") as f:
                f.write("server:\n  workers: 3\n")
            out = run_cli("config", "--config", path).stdout.splitlines()
            self.assertEqual(out[0], f"# effective configuration (file: {path})")
            self.assertIn("server.workers: 3    # worker threads for store and provider calls", out)
            self.assertEqual(run_cli("config").stdout.splitlines()[0], "# effective configuration")
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_every_subcommand_is_in_the_readme(self):
        with open(os.path.join(SRC, "README.md")) as f:
            readme = f.read()
        listed = re.findall(r"(?m)^  (\w+) ", run_cli("help").stdout)
        self.assertGreaterEqual(set(listed), set(COMMANDS))
        for name in listed:
            self.assertRegex(readme, rf"mdagent {name}\b", f"README never shows `mdagent {name}`")
        for name in COMMANDS:
            for flag in command_flags(name):
                self.assertIn(flag, readme, f"README lacks {name} {flag}")

    def test_unknown_command_and_option(self):
        p = run_cli("frobnicate", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown command", p.stderr)
        p = run_cli("load", "--nonsense", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown option --nonsense", p.stderr)


class Stores(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="md-firsthour-", dir=TMP)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_load_quiet_prints_nothing(self):
        db = f"sqlite:{self.dir}/q.db"
        p = run_cli("load", SAMPLE, "--db", db, "--quiet")
        self.assertEqual((p.stdout, p.stderr), ("", ""))
        p = run_cli("load", SAMPLE, "--db", db)
        self.assertIn("loaded", p.stderr, "without --quiet the summary is there")
        bad = os.path.join(self.dir, "BAD.csv")
        with open(bad, "w") as f:
            f.write("date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,10\n2024-01-03,x,2,1,1,1\n")
        p = run_cli("load", bad, "--db", db, "--quiet")
        self.assertIn("BAD.csv:3", p.stderr, "errors still show under --quiet")

    def test_a_missing_store_is_created_only_when_asked(self):
        missing = os.path.join(self.dir, "typo.db")
        for args in (["serve", "--listen", "127.0.0.1:0"], ["query", "MSFT"], ["fetch", "MSFT"]):
            p = run_cli(*args, "--db", f"sqlite:{missing}", check=False, timeout=30)
            self.assertEqual(p.returncode, 1, (args, p.stderr))
            self.assertIn(f"no store at {missing}", p.stderr, args)
            self.assertFalse(os.path.exists(missing), f"{args[0]} created the file")
        self.assertIn("--create", run_cli("serve", "--db", f"sqlite:{missing}", check=False).stderr)
        self.assertNotIn("--create", run_cli("query", "X", "--db", f"sqlite:{missing}", check=False).stderr)
        # load creates it; then query reads it
        run_cli("load", os.path.join(SAMPLE, "MSFT.csv"), "--db", f"sqlite:{missing}", "--quiet")
        self.assertEqual(len(run_cli("query", "MSFT", "--db", f"sqlite:{missing}").stdout.splitlines()), 250)
        # serve --create starts on an empty store
        other = os.path.join(self.dir, "new.db")
        port = os.path.join(self.dir, "port")
        proc = subprocess.Popen([BIN, "serve", "--db", f"sqlite:{other}", "--create", "--listen", "127.0.0.1:0",
                                 "--port-file", port], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                if os.path.exists(port):
                    break
                proc.wait(0.05) if proc.poll() is not None else __import__("time").sleep(0.05)
            self.assertTrue(os.path.exists(other))
        finally:
            proc.terminate()
            proc.wait(20)

    def test_validate_only_creates_no_store(self):
        # --validate-only stores nothing, so it leaves no store behind either: an empty file
        # at a mistyped --db would let serve start on it without --create
        missing = os.path.join(self.dir, "sub", "typo.db")
        p = run_cli("load", os.path.join(SAMPLE, "MSFT.csv"), "--validate-only", "--db", f"sqlite:{missing}")
        self.assertIn("price_jump", p.stderr)
        self.assertIn("quality MSFT 1d: A+ (98.3)", p.stderr)
        self.assertIn("validate-only: nothing was stored", p.stderr)
        self.assertFalse(os.path.exists(os.path.dirname(missing)), "load --validate-only created the store")
        self.assertIn(f"no store at {missing}", run_cli("serve", "--db", f"sqlite:{missing}", check=False).stderr)
        # an existing store is judged against, and left as it was
        db = os.path.join(self.dir, "v.db")
        run_cli("load", os.path.join(SAMPLE, "MSFT.csv"), "--db", f"sqlite:{db}", "--quiet")
        p = run_cli("load", os.path.join(SAMPLE, "MSFT.csv"), "--validate-only", "--db", f"sqlite:{db}")
        self.assertIn("validate-only: nothing was stored", p.stderr)
        self.assertEqual(len(run_cli("query", "MSFT", "--db", f"sqlite:{db}").stdout.splitlines()), 250)

    def test_query_on_a_store_of_an_older_schema_says_how_to_migrate_it(self):
        import sqlite3
        path = os.path.join(self.dir, "old.db")
        run_cli("load", os.path.join(SAMPLE, "MSFT.csv"), "--db", f"sqlite:{path}", "--quiet")
        with sqlite3.connect(path) as c:
            (version,) = c.execute("SELECT version FROM schema_version").fetchone()
            c.execute("UPDATE schema_version SET version=?", (version - 1,))
        p = run_cli("query", "MSFT", "--db", f"sqlite:{path}", check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(f"schema version {version - 1}, this mdagent reads {version}", p.stderr)
        self.assertIn("mdagent serve", p.stderr)
        self.assertEqual(p.stdout, "", "nothing half-written")

    def test_a_misspelt_source_is_reported_with_file_and_line(self):
        cfg = os.path.join(self.dir, "mdagent.yaml")
        with open(cfg, "w") as f:
            f.write("log_level: warn\nsources:\n  priority: simulator,yahooo\n")
        for cmd in (["serve"], ["query", "MSFT"], ["config"]):
            p = run_cli(*cmd, "--config", cfg, "--db", f"sqlite:{self.dir}/x.db", check=False)
            self.assertEqual(p.returncode, 2, (cmd, p.stderr))
            self.assertIn(f"{cfg}:3: sources.priority: unknown source 'yahooo' (known: yahoo,", p.stderr)
        with open(cfg, "w") as f:
            f.write("sources:\n  priority:\n    - Yahoo\n    - simulatr\n")
        p = run_cli("config", "--config", cfg, check=False)
        self.assertIn(f"{cfg}:3: sources.priority: unknown source 'simulatr'", p.stderr)
        p = run_cli("config", env={"MDAGENT_SOURCES_PRIORITY": "polygn"}, check=False)
        self.assertIn("environment MDAGENT_SOURCES_PRIORITY: sources.priority: unknown source 'polygn'", p.stderr)
        with open(cfg, "w") as f:
            f.write("sources:\n  priority: Yahoo, simulator\n")
        self.assertEqual(run_cli("config", "--config", cfg).returncode, 0, "names in any case")

    def test_long_error_messages_arrive_whole(self):
        deep = os.path.join(self.dir, *(["a-rather-long-directory-name-for-a-config-file"] * 6))
        os.makedirs(deep)
        cfg = os.path.join(deep, "mdagent.yaml")
        with open(cfg, "w") as f:
            f.write("server:\n  threads: 99\n")
        p = run_cli("config", "--config", cfg, check=False)
        self.assertEqual(p.returncode, 2)
        self.assertEqual(p.stderr.strip(), f"mdagent: {cfg}:2: server.threads: must be 0..64 (got 99)")
        csv = os.path.join(deep, "LONG.csv")
        with open(csv, "w") as f:
            f.write("date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,10\n2024-01-03,3,2,1,1,1\n")
        p = run_cli("load", csv, "--db", f"sqlite:{self.dir}/l.db", "--quiet")
        line = [ln for ln in p.stderr.splitlines() if "LONG.csv:3" in ln]
        self.assertEqual(len(line), 1, p.stderr)
        self.assertIn(csv + ":3:", line[0])
        self.assertRegex(line[0], r"(high|low)\S* .*\d\)?$", "the reason is there, to its end")


class MakeRun(unittest.TestCase):
    def test_make_run_builds_the_binary_alone_and_quietly(self):
        # `make -n run` shows what it would do without doing it
        p = subprocess.run(["make", "-n", "run", "DB=/tmp/x.db", "LISTEN=127.0.0.1:9"], cwd=SRC,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"--target mdagent\b", "make run builds only the binary it runs")
        self.assertRegex(p.stdout, r">\S*make-run\.log", "the build's output goes to a log")
        self.assertIn("/tmp/x.db", p.stdout)
        self.assertIn("127.0.0.1:9", p.stdout)


if __name__ == "__main__":
    unittest.main()
