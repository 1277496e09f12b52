"""Bulk loading with the real binary: kill -9 and Ctrl-C in the middle of a file leave a
store that holds exactly the rows up to the checkpoint, and running the same load again
ends with exactly the rows of the input - no row lost, none twice. Also the reject file and
the command's exit statuses."""
import calendar
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
import unittest

import mdtest

T0 = 1704205800  # 2024-01-02T14:30:00Z
ROWS = 600_000   # ~36 MB: the reader cannot be near the end when the first commit lands


def write_minutes(path, n):
    """n one-minute bars from T0; returns the sum of the closes in cents."""
    total = 0
    with open(path, "w") as f:
        f.write("timestamp,open,high,low,close,volume\n")
        day = None
        prefix = ""
        out = []
        for i in range(n):
            ts = T0 + i * 60
            d = ts // 86400
            if d != day:
                day = d
                prefix = time.strftime("%Y-%m-%dT", time.gmtime(d * 86400))
            m = (ts % 86400) // 60
            c = 10000 + i % 1000
            total += c
            out.append(f"{prefix}{m // 60:02d}:{m % 60:02d}:00Z,{c // 100}.{c % 100:02d},"
                       f"{(c + 100) // 100}.{(c + 100) % 100:02d},{(c - 100) // 100}.{(c - 100) % 100:02d},"
                       f"{c // 100}.{c % 100:02d},{100 + i % 7}\n")
            if len(out) == 10000:
                f.write("".join(out))
                out = []
        f.write("".join(out))
    return total


def state(db):
    """(bars, sum of closes in cents, max ts, mark row or None) of a store, read while the
    loader may be writing (WAL)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        n, cents, top = con.execute(
            "SELECT count(*), coalesce(sum(CAST(round(close*100) AS INTEGER)),0), max(ts) FROM bars").fetchone()
        mark = con.execute("SELECT rows, rejected, lines, offset, done FROM load_marks").fetchone()
        return n, cents, top, mark
    finally:
        con.close()


class Interrupted(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="md-load-", dir=mdtest._tmpdir())
        cls.csv = os.path.join(cls.dir, "KILL.csv")
        cls.cents = write_minutes(cls.csv, ROWS)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def start(self, db):
        return subprocess.Popen([mdtest.BIN, "load", self.csv, "--db", f"sqlite:{db}", "--quiet",
                                 "--threads", "1", "--batch-rows", "2000"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=mdtest.clean_env())

    def stop_mid_file(self, proc, db):
        """Waits for the first checkpoint, then freezes the loader (SIGSTOP) so nothing more
        can commit. Returns the frozen store state, or None when the load had already ended."""
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            try:
                _, _, _, mark = state(db)
            except sqlite3.Error:
                mark = None  # not created yet
            if mark and mark[0] > 0:
                proc.send_signal(signal.SIGSTOP)
                s = state(db)
                if s[3][4] == 0:
                    return s
                proc.send_signal(signal.SIGCONT)
                return None
            time.sleep(0.002)
        return None

    def check_prefix(self, s):
        """The store holds exactly the first mark.rows rows of the file."""
        n, cents, top, mark = s
        self.assertEqual(mark[1], 0)
        self.assertEqual(n, mark[0])
        self.assertEqual(top, T0 + (n - 1) * 60)
        self.assertEqual(cents, sum(10000 + i % 1000 for i in range(n)))
        self.assertEqual(mark[2], n + 1)  # lines: the header and the rows

    def resume_and_check(self, db, done_before):
        p = mdtest.run_cli("load", self.csv, "--db", f"sqlite:{db}")
        self.assertIn("files continued from a checkpoint: 1", p.stderr)
        self.assertIn(f"loaded {ROWS - done_before} rows from 1 file", p.stderr)
        n, cents, top, mark = state(db)
        self.assertEqual(n, ROWS)
        self.assertEqual(cents, self.cents)
        self.assertEqual(top, T0 + (ROWS - 1) * 60)
        self.assertEqual(mark[0], ROWS)
        self.assertEqual(mark[4], 1)
        # a finished file is skipped: nothing read, nothing added
        p = mdtest.run_cli("load", self.csv, "--db", f"sqlite:{db}")
        self.assertIn("loaded 0 rows from 1 file", p.stderr)
        self.assertIn("files skipped, already loaded", p.stderr)
        self.assertEqual(state(db)[0], ROWS)

    def test_kill_9_mid_file_then_resume_gives_exactly_the_input(self):
        for attempt in range(5):
            db = os.path.join(self.dir, f"kill{attempt}.db")
            proc = self.start(db)
            s = self.stop_mid_file(proc, db)
            proc.kill()
            proc.communicate()
            if s is None:
                continue  # the machine was too fast for us this time
            self.assertLess(s[0], ROWS)
            self.check_prefix(s)
            # what a restarted loader sees after the crash: the same consistent prefix
            self.check_prefix(state(db))
            self.resume_and_check(db, s[0])
            return
        self.fail("the load always finished before it could be stopped mid-file")

    def test_ctrl_c_saves_a_checkpoint_and_exits_nonzero(self):
        for attempt in range(5):
            db = os.path.join(self.dir, f"int{attempt}.db")
            proc = self.start(db)
            s = self.stop_mid_file(proc, db)
            if s is None:
                proc.kill()
                proc.communicate()
                continue
            proc.send_signal(signal.SIGINT)
            proc.send_signal(signal.SIGCONT)
            _, err = proc.communicate(timeout=120)
            if proc.returncode == 0:
                continue  # everything had been read before the signal arrived
            self.assertEqual(proc.returncode, 1, err)
            self.assertIn("interrupted: run the same command again to continue", err)
            self.assertNotIn("AddressSanitizer", err)
            after = state(db)
            self.assertEqual(after[3][4], 0)
            self.assertGreaterEqual(after[0], s[0])
            self.check_prefix(after)
            self.resume_and_check(db, after[0])
            return
        self.fail("the load always finished before Ctrl-C could stop it")


class Rejects(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="md-rej-", dir=mdtest._tmpdir())

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_reject_file_and_exit_statuses(self):
        csv = os.path.join(self.dir, "BAD.csv")
        with open(csv, "w") as f:
            f.write("date,open,high,low,close,volume\r\n"
                    "2024-03-01,10,11,9,10.5,100\r\n"
                    "2024-03-04,10,9,11,10.5,100\r\n"
                    "2024-03-05,abc,11,9,10.5,100\r\n"
                    "2024-03-06,10,11,9,10.5,100\r\n"
                    "2024-03-07,10,11")
        rej = os.path.join(self.dir, "rejects.csv")
        db = f"sqlite:{self.dir}/md.db"
        p = mdtest.run_cli("load", csv, "--db", db, "--reject-file", rej)
        self.assertIn("loaded 5 rows from 1 file: 2 stored, 3 rejected", p.stderr)
        self.assertIn("rejected high_below_low: 1", p.stderr)
        self.assertIn("rejected parse_error: 2", p.stderr)
        self.assertIn(f"{csv}:3: high 9 < low 11", p.stderr)
        with open(rej) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0], "file,line,reason,message,row")
        self.assertEqual(lines[1], f'{csv},3,high_below_low,high 9 < low 11,"2024-03-04,10,9,11,10.5,100"')
        self.assertEqual(lines[2], f"{csv},4,parse_error,open: 'abc' is not a number,"
                                   '"2024-03-05,abc,11,9,10.5,100"')
        self.assertEqual(lines[3], f'{csv},6,parse_error,"3 fields, header has 6","2024-03-07,10,11"')
        self.assertEqual(len(lines), 4)
        # bad usage exits 2, an unreadable file 1
        self.assertEqual(mdtest.run_cli("load", csv, "--db", db, "--threads", "x", check=False).returncode, 2)
        self.assertEqual(mdtest.run_cli("load", csv, "--db", db, "--batch-rows", "0", check=False).returncode, 2)
        missing = mdtest.run_cli("load", os.path.join(self.dir, "nope.csv"), "--db", db, check=False)
        self.assertEqual(missing.returncode, 1)
        self.assertIn("nope.csv: No such file or directory", missing.stderr)

    def test_an_actions_file_loads_its_records(self):
        """A CSV with type and ex_date columns and no close is an actions file (API.md
        "Which record": records loaded from a file, source csv): its good records are stored,
        its bad ones reported by item, and the bars of the same load are adjusted with them."""
        d = os.path.join(self.dir, "acts")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "ACTL.csv"), "w") as f:
            f.write("date,open,high,low,close,volume\n"
                    "2024-09-03,100,101,99,100,10\n2024-09-04,100,101,99,100,10\n"
                    "2024-09-05,25,26,24,25,40\n2024-09-06,25,26,24,25,40\n")
        with open(os.path.join(d, "actions.csv"), "w") as f:
            f.write("symbol,type,ex_date,ratio,amount,currency\n"
                    "ACTL,split,2024-09-05,4:1,,\n"
                    "ACTL,split,2024-09-06,bad,,\n"
                    "ACTL,dividend,2024-09-06,,50,GBp\n")
        db = f"sqlite:{self.dir}/acts.db"
        p = mdtest.run_cli("load", d, "--db", db)
        self.assertIn("loaded 7 rows from 2 files: 6 stored, 1 rejected", p.stderr)
        self.assertIn("actions.csv: item 1 (data line 2): invalid_argument: ratio: 'bad' is not N:M",
                      p.stderr)
        con = sqlite3.connect(f"{self.dir}/acts.db")
        try:
            bars = con.execute("SELECT count(*) FROM bars").fetchone()[0]
        finally:
            con.close()
        self.assertEqual(bars, 4)
        q = mdtest.run_cli("query", "ACTL", "--db", db, "--format", "json", "--adjust", "splits")
        doc = json.loads(q.stdout)
        self.assertEqual([b["close"] for b in doc["bars"]], [25, 25, 25, 25])
        self.assertEqual([b["volume"] for b in doc["bars"]], [40, 40, 40, 40])
        self.assertEqual(doc["adjustment"]["applied"], 1)
        q = mdtest.run_cli("query", "ACTL", "--db", db, "--format", "json", "--adjust", "all")
        # 0.50 GBP on 2024-09-06 against the 25 close before it: factor 0.98
        self.assertAlmostEqual(json.loads(q.stdout)["bars"][0]["close"], 25 * 0.98, places=12)

    def test_yahoo_events_downloads_load_as_actions(self):
        """Yahoo Finance's events downloads ("Date,Stock Splits" with 4:1, "Date,Dividends";
        pandas writes them with the exchange's local midnight and the ratio as a number: 4.0,
        0.1 for 1:10) have no symbol column: --symbol or the file name names it. Their records
        adjust the bars as an actions file's do."""
        d = os.path.join(self.dir, "yev")
        os.makedirs(os.path.join(d, "divs"), exist_ok=True)
        with open(os.path.join(d, "YEV.csv"), "w") as f:
            f.write("Date,Open,High,Low,Close,Adj Close,Volume\n"
                    "2024-09-03,100,101,99,100,100,10\n2024-09-04,100,101,99,100,100,10\n"
                    "2024-09-05,25,26,24,25,25,40\n2024-09-06,25,26,24,25,25,40\n"
                    "2024-09-09,250,260,240,250,250,4\n")
        with open(os.path.join(d, "splits.csv"), "w") as f:  # rows in no order, as Yahoo's
            f.write("\ufeffDate,Stock Splits\r\n2024-09-09,1:10\r\n2024-09-05,4:1\r\n")
        with open(os.path.join(d, "divs", "YEV.csv"), "w") as f:
            f.write("Date,Dividends\n2024-09-06 00:00:00-04:00,0.5\n2024-09-04,nope\n")
        db = f"sqlite:{self.dir}/yev.db"
        mdtest.run_cli("load", os.path.join(d, "YEV.csv"), "--db", db)
        p = mdtest.run_cli("load", os.path.join(d, "splits.csv"), "--symbol", "yev", "--db", db)
        self.assertIn("2 stored", p.stderr)
        p = mdtest.run_cli("load", os.path.join(d, "divs"), "--db", db)
        self.assertIn("1 stored, 1 rejected", p.stderr)
        self.assertIn("item 1 (data line 2): invalid_argument: amount: 'nope' is not a number",
                      p.stderr)
        # without a symbol column, --symbol or a file name that is one: the file's error
        bad = os.path.join(d, "no symbol here.csv")
        with open(bad, "w") as f:
            f.write("Date,Stock Splits\n2024-09-05,4:1\n")
        p = mdtest.run_cli("load", bad, "--db", db, check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("no symbol column", p.stderr)
        # a pandas-written split file: 0.1 is 1:10, local midnight is the date
        with open(os.path.join(d, "pandas.csv"), "w") as f:
            f.write("Date,Stock Splits\n2024-09-09 00:00:00-04:00,0.1\n2024-09-05 00:00:00-04:00,4.0\n")
        p = mdtest.run_cli("load", os.path.join(d, "pandas.csv"), "--symbol", "YEV", "--db", db)
        self.assertIn("2 stored", p.stderr)
        con = sqlite3.connect(f"{self.dir}/yev.db")
        try:
            rows = con.execute("SELECT a.type, a.ex_date, a.numerator, a.denominator, a.amount "
                               "FROM actions a JOIN symbols s ON s.id = a.symbol_id "
                               "WHERE s.symbol = 'YEV' ORDER BY a.ex_date, a.type").fetchall()
        finally:
            con.close()
        day = lambda s: calendar.timegm(time.strptime(s, "%Y-%m-%d"))
        self.assertEqual(sorted({(r[1], r[2], r[3]) for r in rows if r[2]}),
                         [(day("2024-09-05"), 4, 1), (day("2024-09-09"), 1, 10)], rows)
        self.assertEqual([(r[1], r[4]) for r in rows if r[4]], [(day("2024-09-06"), 0.5)], rows)
        q = mdtest.run_cli("query", "YEV", "--db", db, "--format", "json", "--adjust", "splits")
        doc = json.loads(q.stdout)
        # anchored at the newest bar: 4:1 then 1:10 make the first bars 100 / 4 * 10
        self.assertEqual([b["close"] for b in doc["bars"]], [250, 250, 250, 250, 250])


if __name__ == "__main__":
    unittest.main()
