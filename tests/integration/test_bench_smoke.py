"""cpm-bench smoke test: every scenario runs for about 2 seconds against the
test cluster (cleartext and, for one scenario, implicit TLS) and completes
with zero errors. Speed is never asserted here (docs/performance.md holds
the numbers); what is asserted is that the load generator and the server
agree on the protocol under concurrency: every op answered OK, every IDLE
push seen, the JSON report well formed and the server processes found."""

import json
import os
import subprocess

import cluster
from cluster import ClusterTest

cluster.module_fixtures(globals())

PW = "bench-smoke-pw"
USER = "benchsmoke"


def populate(c):
    c.add_user(USER, PW)


class BenchSmoke(ClusterTest):
    def run_bench(self, scenario, *extra, tls=False, connections=4, duration="2"):
        c = self.cluster
        bench = cluster.binary("cpm-bench")
        self.assertTrue(os.access(bench, os.X_OK), "%s is missing" % bench)
        pids = [p.pid for p in c.all_procs()]
        argv = [bench, "-s", scenario, "-H", cluster.HOST, "-p", str(c.port(0, tls)), "-u", USER, "-w", PW,
                "-f", "smoke", "-c", str(connections), "-d", duration, "-m", "150", "--json", "-l", "cpm-store"]
        if tls:
            argv += ["--tls", "--ca", c.cert]
        for p in pids:
            argv += ["--pid", str(p)]
        argv += list(extra)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, "cpm-bench %s: exit %d\n%s\n%s" % (scenario, r.returncode, r.stdout,
                                                                           r.stderr))
        lines = r.stdout.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stdout)
        rep = json.loads(lines[0])
        self.assertEqual(rep["scenario"], scenario)
        self.assertEqual(rep["label"], "cpm-store")
        self.assertEqual(rep["connections"], connections)
        return rep

    def check_ok(self, rep):
        self.assertEqual(rep["status"], "ok", rep)
        self.assertEqual(rep["errors"], 0, rep["first_error"])
        self.assertGreater(rep["ops"], 0, rep)
        lat = rep["latency_ms"]
        self.assertTrue(0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"], lat)
        names = {g["name"] for g in rep["process_groups"]}
        self.assertEqual(names, {"cpm-frontend", "cpm-backend"}, rep["process_groups"])
        # 2 back-ends, 2 front-ends each with a master and one worker
        self.assertEqual(sum(g["count"] for g in rep["process_groups"]), 6, rep["process_groups"])

    def test_login(self):
        self.check_ok(self.run_bench("login"))

    def test_login_tls(self):
        self.check_ok(self.run_bench("login", tls=True))

    def test_append(self):
        rep = self.run_bench("append")
        self.check_ok(rep)
        self.assertGreater(rep["bytes"], 0)

    def test_fetch(self):
        rep = self.run_bench("fetch")
        self.check_ok(rep)
        self.assertGreater(rep["bytes"], 0)  # BODY[] literals arrived

    def test_search(self):
        self.check_ok(self.run_bench("search"))

    def test_store(self):
        self.check_ok(self.run_bench("store"))

    def test_mixed(self):
        self.check_ok(self.run_bench("mixed"))

    def test_idle(self):
        rep = self.run_bench("idle", "--idle-rate", "10", connections=8)
        self.check_ok(rep)
        idle = rep["idle"]
        self.assertEqual(idle["sessions"], 8)
        self.assertGreater(idle["pushes_expected"], 0)
        self.assertEqual(idle["pushes_seen"], idle["pushes_expected"], idle)

    def test_resync(self):
        rep = self.run_bench("resync", "-k", "5")
        if rep["status"] == "unsupported":
            # Until the server advertises QRESYNC the scenario must say so cleanly.
            self.assertEqual(rep["first_error"], "the server does not advertise QRESYNC")
            self.assertEqual(rep["ops"], 0)
            self.skipTest("the server does not advertise QRESYNC yet")
        self.check_ok(rep)

    def test_bad_usage(self):
        r = subprocess.run([cluster.binary("cpm-bench"), "-s", "nosuch"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown scenario nosuch", r.stderr)
        r = subprocess.run([cluster.binary("cpm-bench"), "-s", "login", "-c", "100001"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("bad value for option", r.stderr)

    def test_wrong_password_counts_errors(self):
        c = self.cluster
        r = subprocess.run([cluster.binary("cpm-bench"), "-s", "login", "-p", str(c.port(0)), "-u", USER, "-w",
                            "wrong", "-c", "1", "-d", "1", "--json"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        rep = json.loads(r.stdout)
        self.assertEqual(rep["ops"], 0)
        self.assertGreater(rep["errors"], 0)
        self.assertEqual(rep["status"], "failed")
        self.assertTrue(rep["first_error"].startswith("LOGIN failed: A1 NO"), rep["first_error"])
