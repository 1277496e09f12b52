"""The Kubernetes files in deploy/ are valid YAML and agree with the code: probes on real
routes that a running agent answers, a ConfigMap the agent accepts, environment variables it
reads, Secret keys that exist, selectors that match, grace periods that add up, metric names
that exist, and a Dockerfile whose runtime packages cover the binary's libraries."""
import glob
import os
import re
import subprocess
import tempfile
import unittest

import yaml

from mdtest import BIN, SRC, AgentTest, run_cli

DEPLOY = os.path.join(SRC, "deploy")


def load_all():
    docs = {}
    for path in sorted(glob.glob(os.path.join(DEPLOY, "*.yaml"))):
        with open(path) as f:
            docs[os.path.basename(path)] = [d for d in yaml.safe_load_all(f) if d is not None]
    return docs


def routes():
    """(methods, pattern) of every row of routes.def."""
    with open(os.path.join(SRC, "src", "server", "routes.def")) as f:
        return re.findall(r'^MD_ROUTE\(([^,]+),\s*"([^"]+)"', f.read(), re.M)


def config_env_names():
    """Environment variables of the config table (mdagent config --markdown)."""
    table = run_cli("config", "--markdown").stdout
    return set(re.findall(r"`((?:MDAGENT|[A-Z0-9]+)_[A-Z0-9_]+)`", table)) | {"MDAGENT_CONFIG"}


class DeployFiles(AgentTest):
    load_sample = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.docs = load_all()
        cls.by_kind = {}
        for docs in cls.docs.values():
            for d in docs:
                cls.by_kind.setdefault(d["kind"], []).append(d)
        cls.dep = cls.by_kind["Deployment"][0]
        cls.pod = cls.dep["spec"]["template"]["spec"]
        cls.container = cls.pod["containers"][0]

    def test_every_file_is_yaml_with_kind_and_name(self):
        self.assertGreaterEqual(len(self.docs), 6, sorted(self.docs))
        for name, docs in self.docs.items():
            self.assertTrue(docs, f"{name} is empty")
            for d in docs:
                self.assertIsInstance(d, dict, name)
                self.assertIn("apiVersion", d, name)
                self.assertIn("kind", d, name)
                if d["kind"] != "Kustomization":
                    self.assertTrue(d["metadata"]["name"], name)
        for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "ConfigMap", "Secret",
                     "PodDisruptionBudget", "Kustomization"):
            self.assertIn(kind, self.by_kind, f"no {kind} in deploy/")

    def test_kustomization_lists_existing_files(self):
        k = self.by_kind["Kustomization"][0]
        for r in k["resources"]:
            self.assertTrue(os.path.exists(os.path.join(DEPLOY, r)), r)
        self.assertNotIn("secret.example.yaml", k["resources"], "the example Secret must not be applied")

    def probe_paths(self):
        c = self.container
        return {name: c[name]["httpGet"]["path"] for name in ("livenessProbe", "readinessProbe", "startupProbe")}

    def test_probes_point_at_real_routes_the_agent_answers(self):
        paths = self.probe_paths()
        self.assertEqual(paths["livenessProbe"], "/health/live")
        self.assertEqual(paths["readinessProbe"], "/health/ready")
        gets = {p for m, p in routes() if "GET" in m}
        port_names = {p["name"] for p in self.container["ports"]}
        for name, path in paths.items():
            self.assertIn(path, gets, f"{name}: {path} is not a GET route in routes.def")
            self.assertIn(self.container[name]["httpGet"]["port"], port_names, name)
            self.assertEqual(self.get(path).status, 200, f"{name} {path} on a running agent")

    def agent_config(self):
        cm = self.by_kind["ConfigMap"][0]
        return cm["data"]["mdagent.yaml"]

    def test_configmap_is_accepted_by_the_agent(self):
        text = self.agent_config()
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(text)
            path = f.name
        try:
            p = run_cli("serve", "--config", path, "--print-config", check=False)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("0.0.0.0:8080", p.stdout)
        finally:
            os.unlink(path)
        cfg = yaml.safe_load(text)
        port = int(cfg["listen"].rsplit(":", 1)[1])
        self.assertEqual(port, self.container["ports"][0]["containerPort"])
        mount = {m["name"]: m["mountPath"] for m in self.container["volumeMounts"]}["config"]
        env = {e["name"]: e.get("value") for e in self.container["env"]}
        self.assertEqual(env["MDAGENT_CONFIG"], os.path.join(mount, "mdagent.yaml"))

    def test_grace_periods_add_up(self):
        cfg = yaml.safe_load(self.agent_config())
        grace_ms = cfg["server"]["shutdown_grace_ms"]
        pre = self.container["lifecycle"]["preStop"]["exec"]["command"]
        self.assertEqual(pre[0], "sleep")
        total_ms = int(pre[1]) * 1000 + grace_ms
        self.assertGreater(self.pod["terminationGracePeriodSeconds"] * 1000, total_ms,
                           "terminationGracePeriodSeconds must exceed preStop + server.shutdown_grace_ms")

    def test_environment_comes_from_the_secret_and_is_read_by_the_agent(self):
        known = config_env_names()
        secret = self.by_kind["Secret"][0]
        keys = set(secret["stringData"])
        from_secret = {}
        # the pod's own name and address (downward API) are only there to be spelled into
        # another variable's value as $(NAME): Kubernetes expands those, the agent never sees them
        values = " ".join(str(e.get("value", "")) for e in self.container["env"])
        for e in self.container["env"]:
            if "fieldRef" in e.get("valueFrom", {}):
                self.assertIn(f"$({e['name']})", values, f"{e['name']} is set but never used")
                continue
            self.assertIn(e["name"], known, f"{e['name']} is not read by the agent")
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                self.assertEqual(ref["name"], secret["metadata"]["name"])
                self.assertIn(ref["key"], keys)
                from_secret[e["name"]] = ref
        for must in ("MDAGENT_DB", "MDAGENT_REDIS", "MDAGENT_API_KEYS"):
            self.assertIn(must, from_secret, f"{must} must come from the Secret")
            self.assertFalse(from_secret[must].get("optional", False), must)
        # the example holds placeholders, not secrets
        self.assertEqual(secret["stringData"]["MDAGENT_API_KEYS"], "CHANGE-ME")
        self.assertIn("CHANGE-ME", secret["stringData"]["MDAGENT_DB"])

    def test_service_hpa_and_pdb_select_the_deployment(self):
        labels = self.dep["spec"]["template"]["metadata"]["labels"]
        self.assertEqual(self.dep["spec"]["selector"]["matchLabels"], labels)
        svc = self.by_kind["Service"][0]
        self.assertTrue(set(svc["spec"]["selector"].items()) <= set(labels.items()))
        port_names = {p["name"] for p in self.container["ports"]}
        for p in svc["spec"]["ports"]:
            self.assertIn(p["targetPort"], port_names)
        hpa = self.by_kind["HorizontalPodAutoscaler"][0]
        ref = hpa["spec"]["scaleTargetRef"]
        self.assertEqual((ref["kind"], ref["name"]), ("Deployment", self.dep["metadata"]["name"]))
        self.assertLessEqual(hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"])
        cpu = [m for m in hpa["spec"]["metrics"] if m["type"] == "Resource"]
        self.assertEqual(cpu[0]["resource"]["name"], "cpu")
        self.assertIn("cpu", self.container["resources"]["requests"], "CPU utilisation needs a request")
        pdb = self.by_kind["PodDisruptionBudget"][0]
        self.assertTrue(set(pdb["spec"]["selector"]["matchLabels"].items()) <= set(labels.items()))

    def test_metric_names_mentioned_exist(self):
        with open(os.path.join(SRC, "src", "core", "metrics.def")) as f:
            names = set(re.findall(r'"(mdagent_[a-z0-9_]+)"', f.read()))
        self.assertTrue(names)
        mentioned = set()
        for path in glob.glob(os.path.join(DEPLOY, "*")):
            with open(path) as f:
                mentioned |= set(re.findall(r"\bmdagent_[a-z0-9_]+", f.read()))
        derived = {"mdagent_http_requests_per_second"}  # the adapter rule's output name
        for m in mentioned - derived:
            self.assertIn(m, names, f"{m} is not in metrics.def")

    def test_hpa_scales_on_the_agents_own_metrics_through_the_adapter_rules(self):
        hpa = self.by_kind["HorizontalPodAutoscaler"][0]
        pods = {m["pods"]["metric"]["name"]: m["pods"]["target"] for m in hpa["spec"]["metrics"]
                if m["type"] == "Pods"}
        self.assertEqual(set(pods), {"mdagent_worker_queue_depth", "mdagent_stream_clients",
                                     "mdagent_http_requests_per_second"})
        for name, target in pods.items():
            self.assertEqual(target["type"], "AverageValue", name)
            self.assertGreater(float(target["averageValue"]), 0, name)
        # every metric the HPA asks for is one a rule of the adapter serves, from a series the
        # agent exports (its /metrics, live)
        cm = [d for d in self.by_kind["ConfigMap"] if d["metadata"]["name"] == "adapter-config"][0]
        rules = yaml.safe_load(cm["data"]["config.yaml"])["rules"]
        served = {}
        for r in rules:
            series = re.match(r"([a-z_]+)\{", r["seriesQuery"]).group(1)
            self.assertTrue(re.search(r["name"]["matches"], series), r["name"])
            served[r["name"]["as"]] = series
            self.assertEqual(r["resources"]["overrides"]["pod"]["resource"], "pod")
            self.assertIn("<<.LabelMatchers>>", r["metricsQuery"])
            self.assertIn("by (<<.GroupBy>>)", r["metricsQuery"])
        text = self.get("/metrics").body
        for name in pods:
            self.assertIn(name, served, f"no adapter rule serves {name}")
            self.assertIn(f"# TYPE {served[name]} ", text, f"{served[name]} is not exported")
        kinds = {served[n]: re.search(rf"# TYPE {served[n]} (\w+)", text).group(1) for n in pods}
        rule_of = {r["name"]["as"]: r for r in rules}
        for name, series in served.items():  # a counter is read as a rate, a gauge as it is
            q = rule_of[name]["metricsQuery"]
            self.assertEqual("rate(" in q, kinds.get(series) == "counter", (name, q))
        self.assertNotIn("adapter-config", str(self.by_kind["Kustomization"][0]["resources"]))

    def test_disruptions_and_drain_agree_with_the_shutdown_grace(self):
        """A pod that goes (scale-down, node drain, rollout) is taken out of the Service, waits
        preStop for the load balancers to notice, then drains for server.shutdown_grace_ms;
        Kubernetes kills it only after terminationGracePeriodSeconds. The PDB lets one pod go
        at a time, which the HPA's minimum keeps from ever being the last one."""
        cfg = yaml.safe_load(self.agent_config())
        grace_ms = cfg["server"]["shutdown_grace_ms"]
        pre_s = int(self.container["lifecycle"]["preStop"]["exec"]["command"][1])
        ready = self.container["readinessProbe"]
        # a load balancer that follows readiness rather than endpoints notices within this
        self.assertGreaterEqual(pre_s, ready["periodSeconds"] * ready["failureThreshold"] // 2)
        self.assertGreater(self.pod["terminationGracePeriodSeconds"], pre_s + grace_ms / 1000)
        pdb = self.by_kind["PodDisruptionBudget"][0]["spec"]
        hpa = self.by_kind["HorizontalPodAutoscaler"][0]["spec"]
        self.assertEqual(pdb.get("maxUnavailable"), 1, "one pod drains at a time")
        self.assertNotIn("minAvailable", pdb)
        self.assertGreaterEqual(hpa["minReplicas"] - pdb["maxUnavailable"], 1)
        self.assertEqual(self.dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"], 0)
        # the scale-down the HPA allows (pods per period) is what the PDB lets drain at once
        down = hpa["behavior"]["scaleDown"]["policies"]
        self.assertTrue(all(p["type"] == "Pods" and p["value"] <= pdb["maxUnavailable"] for p in down), down)
        # each pod removed gets its whole drain before the next one goes
        self.assertTrue(all(p["periodSeconds"] >= self.pod["terminationGracePeriodSeconds"] for p in down), down)

    def test_dockerfile_matches_the_deployment_and_the_binary(self):
        with open(os.path.join(DEPLOY, "Dockerfile")) as f:
            df = f.read()
        self.assertIn(f"EXPOSE {self.container['ports'][0]['containerPort']}", df)
        user = re.search(r"^USER (\d+)", df, re.M).group(1)
        self.assertEqual(int(user), self.pod["securityContext"]["runAsUser"])
        for src in re.findall(r"^COPY (?!--from)(\S+)", df, re.M):
            self.assertTrue(os.path.exists(os.path.join(SRC, src)), f"COPY {src}: missing")
        cfg = yaml.safe_load(self.agent_config())
        # the image installs with CMake's install rules under a prefix; dashboard.dir and the
        # entry point are where those rules put the page and the binary
        prefix = re.search(r"-DCMAKE_INSTALL_PREFIX=(\S+)", df).group(1)
        self.assertEqual(cfg["dashboard"]["dir"], f"{prefix}/share/mdagent/web")
        self.assertIn(f'ENTRYPOINT ["{prefix}/bin/mdagent"]', df)
        build = df.split("FROM debian:bookworm-slim", 1)[0]
        for opt in ("-DMD_BUILD_TESTS=OFF", "-DMD_BUILD_BENCH=OFF"):
            self.assertIn(opt, build, "the image builds neither tests nor benchmarks")
        self.assertNotIn("criterion", build, "a build without tests needs no Criterion")
        # every shared library the binary links comes from a package the runtime stage installs
        runtime = df.split("FROM debian:bookworm-slim", 1)[1]
        ldd = subprocess.run(["ldd", BIN], capture_output=True, text=True, check=True).stdout
        base = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g", "libcap2", "libcom-err2", "libkeyutils1"}
        missing = []
        for lib in re.findall(r"=> (/\S+)", ldd):
            if "asan" in lib or "ubsan" in lib:
                continue  # the sanitizer build's runtime
            p = subprocess.run(["dpkg", "-S", os.path.realpath(lib)], capture_output=True, text=True)
            if p.returncode != 0:
                p = subprocess.run(["dpkg", "-S", lib], capture_output=True, text=True)
            if p.returncode != 0:
                continue
            pkg = p.stdout.split(":")[0]
            # only the libraries mdagent links directly; their own dependencies come with them
            direct = re.search(r"lib(http_parser|nettle|curl|jansson|sqlite3|pq|hiredis|yaml|ssl|z)\b", os.path.basename(lib))
            if pkg not in base and direct and not re.search(rf"\b{re.escape(pkg)}\b", runtime):
                missing.append(f"{lib} ({pkg})")
        self.assertEqual(missing, [], "add these packages to the Dockerfile's runtime stage")

    def test_install_rules_lay_out_what_the_image_serves(self):
        """cmake --install of the build under test puts the binary, the whole page and the
        documents where the image and deploy/configmap.yaml expect them (relative to the
        prefix; the binary also looks in ../share/mdagent/web beside itself)."""
        build = os.path.dirname(os.path.abspath(BIN))
        if not os.path.exists(os.path.join(build, "cmake_install.cmake")):
            self.skipTest(f"{BIN} is not in a CMake build directory")
        with tempfile.TemporaryDirectory() as prefix:
            subprocess.run(["cmake", "--install", build, "--prefix", prefix], check=True,
                           capture_output=True, timeout=120)
            self.assertTrue(os.access(os.path.join(prefix, "bin", "mdagent"), os.X_OK))
            web = os.path.join(prefix, "share", "mdagent", "web")
            tracked = subprocess.run(["git", "-C", SRC, "ls-files", "web"], capture_output=True,
                                     text=True).stdout.split()
            page = [p for p in tracked if not os.path.basename(p).startswith("package")]
            if not page:  # not a git checkout: the files on disk
                page = [os.path.relpath(os.path.join(d, f), SRC)
                        for d, _, fs in os.walk(os.path.join(SRC, "web")) if "node_modules" not in d
                        for f in fs if not f.startswith("package")]
            self.assertIn("web/index.html", page)
            for p in page:
                self.assertTrue(os.path.isfile(os.path.join(prefix, "share", "mdagent", p)),
                                f"{p} is not installed")
            for lib in ("lightweight-charts", "uplot"):
                if os.path.isdir(os.path.join(SRC, "web", "node_modules", lib, "dist")):
                    self.assertTrue(os.path.isdir(os.path.join(web, "node_modules", lib, "dist")), lib)
            for doc in ("README.md", "API.md", "architecture.md", "HACKING.md"):
                self.assertTrue(os.path.isfile(os.path.join(prefix, "share", "doc", "mdagent", doc)), doc)


if __name__ == "__main__":
    unittest.main()
