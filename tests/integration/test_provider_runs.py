"""provider.replicate / provider.fal end to end: the real CLI and executor against the fake servers.

Runs that need a process to die or to get Ctrl-C spawn the CLI (`spawn_cli`); the rest call the CLI's
`main` in this process (`run_cli`), which is the same code path without the interpreter start-up.
Either way the fake servers live in this process and the CLI reaches them through the documented
environment overrides (ARTFACTORY_REPLICATE_BASE_URL, ARTFACTORY_FAL_QUEUE_URL, ...).
"""

from __future__ import annotations

import json
import logging
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.fixtures.fake_fal import FakeFal
from tests.fixtures.fake_replicate import FakeReplicate
from tests.support.cli import ROOT, CliResult, cli_env, run_cli, spawn_cli
from tests.support.fake_keys import fake_replicate_token

SLOW_S = 60.0  # a "slow" remote job: far longer than any test; tests finish it on purpose instead


# --- providers under test ----------------------------------------------------------------------


@dataclass
class Cloud:
    """One provider's fake server and how the CLI reaches it."""

    name: str  # replicate | fal
    node_type: str
    params: dict[str, Any]
    server: FakeReplicate | FakeFal

    @property
    def display(self) -> str:
        return {"replicate": "Replicate", "fal": "fal"}[self.name]

    @property
    def key_env(self) -> str:
        return {"replicate": "REPLICATE_API_TOKEN", "fal": "FAL_KEY"}[self.name]

    @property
    def key(self) -> str:
        return self.server.token if isinstance(self.server, FakeReplicate) else self.server.key

    @property
    def id_field(self) -> str:
        """Where the product metadata keeps the remote job id."""
        return "prediction_id" if self.name == "replicate" else "request_id"

    def env(self, with_key: bool = True) -> dict[str, str]:
        """Environment pointing the CLI at this fake (and, unless told otherwise, carrying its key)."""
        env = {"ARTFACTORY_REPLICATE_BASE_URL": self.server.url, "ARTFACTORY_FAL_QUEUE_URL": self.server.url,
               "ARTFACTORY_FAL_REST_URL": self.server.url}
        if with_key:
            env[self.key_env] = self.key
        return env

    def creates(self) -> int:
        """Create/submit requests the fake accepted (a paid job each)."""
        server = self.server
        return server.accepted_creates if isinstance(server, FakeReplicate) else server.accepted_submits

    def create_posts(self) -> int:
        """Create/submit requests the fake saw at all, accepted or not."""
        if isinstance(self.server, FakeReplicate):
            return len(self.server.create_requests())
        return len(self.server.requests_to("POST"))

    def jobs(self) -> list[str]:
        server = self.server
        return list(server.predictions if isinstance(server, FakeReplicate) else server.queue_requests)

    def set_slow(self, slow: bool) -> None:
        """Make running jobs last SLOW_S seconds, or (False) finish every job at once, running ones too."""
        self.server.run_s = SLOW_S if slow else 0.0

    def finish_job(self, job_id: str) -> None:
        """Let one job end now while the others keep running (its clock is moved back)."""
        server = self.server
        job = server.predictions[job_id] if isinstance(server, FakeReplicate) else server.queue_requests[job_id]
        job.mono -= 10 * SLOW_S

    def fail_jobs(self) -> str:
        """Make jobs end in failure; returns the provider's error message."""
        if isinstance(self.server, FakeReplicate):
            self.server.outcome = "failed"
            return self.server.error
        self.server.outcome = "error"
        return "Runner ran out of GPU memory"


def _started(name: str) -> Cloud:
    """A fake server of that provider, started, and the node params that use it (one image per job)."""
    if name == "replicate":
        return Cloud("replicate", "provider.replicate", {"model": "acme/painter", "input": {"num_outputs": 1}},
                     FakeReplicate().start())
    return Cloud("fal", "provider.fal", {"endpoint": "fal-ai/flux/dev", "input": {"num_images": 1}},
                 FakeFal().start())


@pytest.fixture(params=["replicate", "fal"])
def cloud(request: pytest.FixtureRequest) -> Iterator[Cloud]:
    started = _started(request.param)
    try:
        yield started
    finally:
        started.server.stop()


@pytest.fixture
def replicate() -> Iterator[Cloud]:
    started = _started("replicate")
    try:
        yield started
    finally:
        started.server.stop()


@pytest.fixture(autouse=True)
def fast_settings(library_home: Path) -> None:
    """Short polls and no politeness throttle, written where the CLI reads its settings."""
    (library_home / "settings.json").write_text(json.dumps(
        {"poll_interval_s": 0.05, "requests_per_second": 1000.0, "request_timeout_s": 10.0}))


@pytest.fixture
def in_process(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> Cloud:
    """The in-process CLI reaches the fake and has its key (from the environment)."""
    for name, value in cloud.env().items():
        monkeypatch.setenv(name, value)
    return cloud


# --- graphs and helpers --------------------------------------------------------------------------


def _write(tmp_path: Path, nodes: list[dict[str, Any]], edges: list[tuple[str, str, str, str]],
           name: str = "g.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({
        "format": "artfactory.graph", "version": 1, "name": "provider run", "meta": {}, "nodes": nodes,
        "edges": [{"from": [a, ap], "to": [b, bp]} for a, ap, b, bp in edges],
    }))
    return path


def _cloud_graph(tmp_path: Path, cloud: Cloud, *, local_branch: bool = False,
                 prompt: str = "a red fox, poster") -> Path:
    """prompt.text → cloud node → transform.resize (→ transform.grayscale), and optionally an independent
    prompt.text → provider.local → transform.blur branch."""
    nodes: list[dict[str, Any]] = [
        {"id": "p", "type": "prompt.text", "params": {"text": prompt}},
        {"id": "gen", "type": cloud.node_type, "params": dict(cloud.params)},
        {"id": "small", "type": "transform.resize", "params": {"width": 32, "height": 32}},
        {"id": "gray", "type": "transform.grayscale"},
    ]
    edges = [("p", "text", "gen", "prompt"), ("gen", "media", "small", "image"), ("small", "image", "gray", "image")]
    if local_branch:
        nodes += [{"id": "lp", "type": "prompt.text", "params": {"text": "a quiet lake"}},
                  {"id": "local", "type": "provider.local", "params": {"seed": 1, "width": 64, "height": 64}},
                  {"id": "blur", "type": "transform.blur"}]
        edges += [("lp", "text", "local", "prompt"), ("local", "image", "blur", "image")]
    return _write(tmp_path, nodes, edges)


def _db_items(home: Path, node_id: str) -> list[dict[str, Any]]:
    """The order items of a node, newest first, read straight from the library's SQLite file."""
    path = home / "library.sqlite3"
    if not path.exists():
        return []
    try:
        conn = sqlite3.connect(path, timeout=1)
        try:
            conn.row_factory = sqlite3.Row
            rows = conn.execute("select status, remote_job_id, remote_state from order_items where node_id=? "
                                "order by rowid desc", (node_id,)).fetchall()
        finally:
            conn.close()
    except sqlite3.Error:  # the CLI may be creating the schema right now
        return []
    return [{**dict(row), "remote_state": json.loads(row["remote_state"] or "null")} for row in rows]


def _poll(what: str, check: Callable[[], Any], proc: subprocess.Popen[str] | None = None,
          timeout: float = 15.0) -> Any:
    """Wait until check() returns something truthy (and return it); fail early if the CLI died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the CLI exited ({proc.returncode}) before {what}:\n{out}\n{err}")
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _remote_jobs(home: Path, node_id: str, count: int) -> Callable[[], dict[str, Any] | None]:
    """A check: the node's newest item has `count` remote jobs persisted (job id and per-item state)."""
    def check() -> dict[str, Any] | None:
        items = _db_items(home, node_id)
        if items and items[0]["remote_job_id"] and len((items[0]["remote_state"] or {}).get("jobs", {})) >= count:
            return items[0]
        return None

    return check


def _decodes(path: str | Path) -> tuple[int, int]:
    with Image.open(path) as image:
        image.load()
        return image.size


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.communicate(timeout=10)


# --- 1. a provider graph runs and its products carry the provider's metadata -------------------------


def test_provider_graph_runs_with_real_images_and_provider_metadata(tmp_path: Path, in_process: Cloud,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    cloud = in_process
    result = run_cli(capsys, "run", _cloud_graph(tmp_path, cloud), "--json")
    assert result.code == 0, result.err
    data = result.json
    assert data["status"] == "succeeded"
    assert {n: v["status"] for n, v in data["nodes"].items()} == {
        "p": "executed", "gen": "executed", "small": "executed", "gray": "executed"}
    assert cloud.creates() == 1 and len(cloud.jobs()) == 1
    by_node = {p["node_id"]: p for p in data["products"]}
    assert set(by_node) == {"gen", "small", "gray"}
    for product in data["products"]:
        assert _decodes(product["path"]) == (product["width"], product["height"])
        assert product["media_type"] == "image" and len(product["sha256"]) == 64
    assert (by_node["gen"]["width"], by_node["gen"]["height"]) == (64, 48)  # what the fake CDN served
    assert (by_node["small"]["width"], by_node["small"]["height"]) == (32, 24)

    shown = run_cli(capsys, "products", "show", by_node["gen"]["id"], "--json").json
    meta = shown["metadata"]
    assert shown["provider"] == cloud.name == meta["provider"]
    model = cloud.params.get("model") or cloud.params["endpoint"]
    assert shown["model"] == model == meta["model"]
    assert meta[cloud.id_field] == cloud.jobs()[0]
    assert meta["prompt"] == shown["prompt"] == "a red fox, poster"
    assert meta["seed"] == cloud.server.seed  # the seed the model reported
    assert meta["timings"]["created"] and meta["timings"]["completed"]
    assert shown["graph"]["nodes"][1]["type"] == cloud.node_type
    # The resized product's lineage leads back through the provider node of the same order.
    small = run_cli(capsys, "products", "show", by_node["small"]["id"], "--json").json
    assert small["order_id"] == shown["order_id"] == data["order_id"]


# --- 2. re-runs never pay twice ---------------------------------------------------------------------


def test_unchanged_rerun_and_downstream_tweak_make_no_creates(tmp_path: Path, in_process: Cloud,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    cloud = in_process
    graph = _cloud_graph(tmp_path, cloud)
    first = run_cli(capsys, "run", graph, "--json")
    assert first.code == 0, first.err
    assert cloud.creates() == 1 and cloud.create_posts() == 1
    requests_after_first = len(cloud.server.requests)

    again = run_cli(capsys, "run", graph, "--json")
    assert again.code == 0, again.err
    assert {v["status"] for v in again.json["nodes"].values()} == {"cached"}
    assert [p["id"] for p in again.json["products"]] == [p["id"] for p in first.json["products"]]
    # Not a single request: no create, no poll, no download.
    assert len(cloud.server.requests) == requests_after_first

    tweaked = run_cli(capsys, "run", graph, "--set", "small.width=48", "--set", "small.height=48", "--json")
    assert tweaked.code == 0, tweaked.err
    assert {n: v["status"] for n, v in tweaked.json["nodes"].items()} == {
        "p": "cached", "gen": "cached", "small": "executed", "gray": "executed"}
    assert tweaked.json["nodes"]["gen"]["products"] == first.json["nodes"]["gen"]["products"]
    small = next(p for p in tweaked.json["products"] if p["node_id"] == "small")
    assert small["width"] == 48

    rerun = run_cli(capsys, "rerun", first.json["order_id"], "--set", "small.mode=stretch", "--json")
    assert rerun.code == 0, rerun.err
    assert rerun.json["parent_order_id"] == first.json["order_id"]
    assert rerun.json["nodes"]["gen"]["status"] == "cached"
    assert cloud.creates() == 1 and cloud.create_posts() == 1
    assert len(cloud.server.requests) == requests_after_first


# --- 3. a failed prediction -----------------------------------------------------------------------


def test_failed_job_keeps_the_provider_message_and_skips_only_its_dependents(
        tmp_path: Path, in_process: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    cloud = in_process
    message = cloud.fail_jobs()
    result = run_cli(capsys, "run", _cloud_graph(tmp_path, cloud, local_branch=True), "--json")
    assert result.code == 1
    data = result.json
    assert data["status"] == "partial"
    nodes = data["nodes"]
    assert nodes["gen"]["status"] == "failed"
    assert message in nodes["gen"]["error"] and cloud.jobs()[0] in nodes["gen"]["error"]
    assert nodes["small"]["status"] == nodes["gray"]["status"] == "skipped"
    assert "gen" in nodes["small"]["error"]
    assert {n: nodes[n]["status"] for n in ("p", "lp", "local", "blur")} == {
        "p": "executed", "lp": "executed", "local": "executed", "blur": "executed"}
    assert {p["node_id"] for p in data["products"]} == {"local", "blur"}
    assert cloud.creates() == 1  # a failed job is an answer, not a reason to pay again

    orders = run_cli(capsys, "orders", "list", "--json").json["orders"]
    assert orders[0]["id"] == data["order_id"] and orders[0]["status"] == "partial"
    assert message in orders[0]["error"]
    detail = run_cli(capsys, "orders", "show", data["order_id"], "--json").json
    gen = next(i for i in detail["items"] if i["node_id"] == "gen")
    assert gen["status"] == "failed" and message in gen["error"] and gen["code"] == "remote_failed"
    assert gen["remote_job_id"] == cloud.jobs()[0]


def test_human_output_shows_provider_messages_verbatim(tmp_path: Path, in_process: Cloud,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Without --json the run is drawn with rich: a provider's words are text, not markup to obey or
    choke on ("[/INST]" once made the CLI print "unexpected error: MarkupError" instead of the result)."""
    cloud = in_process
    message = cloud.fail_jobs()
    if isinstance(cloud.server, FakeReplicate):
        cloud.server.error = message = "prompt template broke near [/INST] and [bold]"
        token = "[/INST]"
    else:
        token = "[runner_server_error]"  # fal's error_type, shown in brackets
        message = f"{token}: {message}"
    result = run_cli(capsys, "run", _cloud_graph(tmp_path, cloud, prompt="[INST] a red fox [/INST]"))
    assert result.code == 1, result.err
    assert "unexpected error" not in result.err
    shown = " ".join(result.out.split())  # rich wraps long lines
    assert "partial" in shown and message in shown
    assert token in result.err  # the live table's message column


# --- 4. killed mid-prediction → resume polls the same job -------------------------------------------


def test_killed_mid_prediction_resumes_with_exactly_one_create(tmp_path: Path, library_home: Path, cloud: Cloud,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    cloud.set_slow(True)
    proc = spawn_cli(library_home, "run", _cloud_graph(tmp_path, cloud), "--json", **cloud.env())
    item = _poll("the job id in the database", _remote_jobs(library_home, "gen", 1), proc)
    _kill(proc)
    job_id = item["remote_job_id"]
    assert cloud.jobs() == [job_id] and cloud.creates() == 1
    assert item["status"] == "running"

    orders = run_cli(capsys, "orders", "list", "--json").json["orders"]
    assert len(orders) == 1 and orders[0]["status"] == "interrupted"

    cloud.set_slow(False)  # the job the dead process left behind finishes meanwhile
    for name, value in cloud.env().items():
        monkeypatch.setenv(name, value)
    resumed = run_cli(capsys, "resume", "--json")
    assert resumed.code == 0, resumed.err
    [data] = resumed.json
    assert data["order_id"] == orders[0]["id"] and data["status"] == "succeeded"
    assert {v["status"] for v in data["nodes"].values()} == {"executed"}
    assert cloud.creates() == 1 and cloud.create_posts() == 1  # polled, not created again
    gen_product = data["nodes"]["gen"]["products"][0]
    shown = run_cli(capsys, "products", "show", gen_product, "--json").json
    assert shown["metadata"][cloud.id_field] == job_id
    assert _decodes(shown["path"]) == (64, 48)
    assert run_cli(capsys, "orders", "list", "--json").json["orders"][0]["status"] == "succeeded"
    assert run_cli(capsys, "resume", "--json").json == []


def test_killed_batch_resumes_with_one_create_per_prompt(tmp_path: Path, library_home: Path, replicate: Cloud,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    fake = replicate.server
    assert isinstance(fake, FakeReplicate)
    prompts = ["a red fox", "a grey owl", "a green frog"]
    graph = _write(tmp_path, [
        {"id": "lines", "type": "prompt.lines", "params": {"text": "\n".join(prompts)}},
        {"id": "gen", "type": "provider.replicate", "params": dict(replicate.params)},
    ], [("lines", "text", "gen", "prompt")])
    replicate.set_slow(True)
    proc = spawn_cli(library_home, "run", graph, "--json", **replicate.env())
    first = _poll("the first prediction", replicate.jobs, proc)
    replicate.finish_job(first[0])  # item 0 ends; the node downloads it and creates item 1's job
    item = _poll("two job ids in the database", _remote_jobs(library_home, "gen", 2), proc)
    _kill(proc)
    assert replicate.creates() == 2
    jobs = item["remote_state"]["jobs"]
    assert [jobs["0"]["job_id"], jobs["1"]["job_id"]] == replicate.jobs()

    replicate.set_slow(False)
    for name, value in replicate.env().items():
        monkeypatch.setenv(name, value)
    resumed = run_cli(capsys, "resume", "--json")
    assert resumed.code == 0, resumed.err
    [data] = resumed.json
    assert data["status"] == "succeeded"
    assert replicate.creates() == 3 and replicate.create_posts() == 3  # only item 2 was created
    assert [r.json()["input"]["prompt"] for r in fake.create_requests()] == prompts
    products = data["nodes"]["gen"]["products"]
    assert len(products) == 3
    shown = [run_cli(capsys, "products", "show", pid, "--json").json for pid in products]
    assert [s["prompt"] for s in shown] == prompts
    assert [s["metadata"]["prediction_id"] for s in shown] == replicate.jobs()


# --- 5. Ctrl-C cancels the remote job ------------------------------------------------------------------


def test_ctrl_c_cancels_the_remote_job_and_exits_130(tmp_path: Path, library_home: Path, cloud: Cloud,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    cloud.set_slow(True)
    proc = spawn_cli(library_home, "run", _cloud_graph(tmp_path, cloud), "--json", **cloud.env())
    item = _poll("the job id in the database", _remote_jobs(library_home, "gen", 1), proc)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=15)
    took = time.monotonic() - sent
    assert proc.returncode == 130, err
    assert took < 5, f"Ctrl-C took {took:.1f} s"
    data = json.loads(out)
    assert data["status"] == "canceled"
    assert data["nodes"]["gen"]["status"] == "canceled"
    assert data["nodes"]["small"]["status"] in ("canceled", "skipped")
    job_id = item["remote_job_id"]
    if isinstance(cloud.server, FakeReplicate):
        cancels = cloud.server.cancel_requests()
        assert [r.path for r in cancels] == [f"/v1/predictions/{job_id}/cancel"]
        assert cloud.server.predictions[job_id].canceled_at is not None
    else:
        cancel_url = item["remote_state"]["jobs"]["0"]["urls"]["cancel_url"]
        puts = cloud.server.requests_to("PUT")
        assert [r.path for r in puts] == [urllib.parse.urlsplit(cancel_url).path]
        assert cloud.server.queue_requests[job_id].canceled_at is not None
    assert cloud.creates() == 1
    orders = run_cli(capsys, "orders", "list", "--json").json["orders"]
    assert orders[0]["status"] == "canceled"
    assert run_cli(capsys, "resume", "--json").json == []  # a cancelled order is not resumed


# --- 6. keys never leak -----------------------------------------------------------------------------


REPLICATE_SECRET = fake_replicate_token("SECRET_do_not_leak_123")
FAL_SECRET = "falSECRET-do-not-leak-456:0f1e2d3c4b5a69788796a5b4c3d2e1f0"
ENV_REPLICATE_SECRET = fake_replicate_token("ENVSECRET_do_not_leak_789")
ENV_FAL_SECRET = "falENVSECRET-do-not-leak-012:aa55aa55aa55aa55aa55aa55aa55aa55"
SECRETS = (REPLICATE_SECRET, FAL_SECRET, ENV_REPLICATE_SECRET, ENV_FAL_SECRET)


def _cli(home: Path, env: dict[str, str], *args: str | Path, stdin: bool = False) -> subprocess.Popen[str]:
    """The CLI in a subprocess with a file keychain (see cli_env); `stdin` opens a pipe to type into."""
    return subprocess.Popen([sys.executable, "-m", "artfactory", *map(str, args)], env=cli_env(home, **env),
                            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT))


def _finish(proc: subprocess.Popen[str], stdin: str | None = None) -> CliResult:
    out, err = proc.communicate(stdin, timeout=30)
    return CliResult(proc.returncode, out, err)


def _no_secret(where: str, blob: str | bytes) -> None:
    text = blob.decode("utf-8", "replace") if isinstance(blob, bytes) else blob
    for secret in SECRETS:
        assert secret not in text, f"a key leaked into {where}"
        # A key split by a JSON escape or stored in UTF-16 would still be a leak.
        if isinstance(blob, bytes):
            assert secret.encode("utf-16-le") not in blob, f"a key leaked into {where} (UTF-16)"


def test_keys_never_leak(tmp_path: Path, library_home: Path, monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    """Keys set through `keys set --stdin` and through the environment, runs that succeed and runs that
    get 401, exports: no key in any output, log (--debug), database or file of the library.

    The environment-key run goes to a second library (env_home), in this process, beside the subprocesses."""
    env_home = tmp_path / "library-env"
    env_home.mkdir()
    (env_home / "settings.json").write_text((library_home / "settings.json").read_text())
    servers: list[FakeReplicate | FakeFal] = [FakeReplicate().start(), FakeFal().start(), FakeReplicate().start(),
                                              FakeFal().start()]
    rep, fal, env_rep, env_fal = servers
    try:
        # Accepted: the keychain's Replicate key, the environment's fal key. 401: the other two.
        rep.token, fal.key = REPLICATE_SECRET, "some-other-fal-key-0000:ffffffffffffffff"
        env_rep.token, env_fal.key = fake_replicate_token("SomeOtherToken0000000000000000"), ENV_FAL_SECRET

        def env_for(replicate: FakeReplicate | FakeFal, fal_server: FakeFal | FakeReplicate,
                    **keys: str) -> dict[str, str]:
            # The file keychain lives outside the libraries: the one place a stored key belongs.
            return {"ARTFACTORY_REPLICATE_BASE_URL": replicate.url, "ARTFACTORY_FAL_QUEUE_URL": fal_server.url,
                    "ARTFACTORY_FAL_REST_URL": fal_server.url, "XDG_DATA_HOME": str(tmp_path / "keychain"), **keys}

        env = env_for(rep, fal)
        env_keys = env_for(env_rep, env_fal, REPLICATE_API_TOKEN=ENV_REPLICATE_SECRET, FAL_KEY=ENV_FAL_SECRET)
        graph = _write(tmp_path, [
            {"id": "p", "type": "prompt.text", "params": {"text": "a red fox, poster"}},
            {"id": "rep", "type": "provider.replicate",
             "params": {"model": "acme/painter", "input": {"num_outputs": 1}}},
            {"id": "fal", "type": "provider.fal", "params": {"endpoint": "fal-ai/flux/dev"}},
        ], [("p", "text", "rep", "prompt"), ("p", "text", "fal", "prompt")])
        outputs: list[tuple[str, CliResult]] = []

        def record(name: str, result: CliResult) -> CliResult:
            outputs.append((name, result))
            return result

        setting = _cli(library_home, env, "keys", "set", "replicate", "--stdin", "--json", stdin=True)

        # Meanwhile, in this process: both keys from the environment (it wins over the keychain), fal
        # accepted, Replicate 401; everything logged at DEBUG is kept like --debug's stderr would be.
        for name, value in env_keys.items():
            monkeypatch.setenv(name, value)
        caplog.set_level(logging.DEBUG)
        env_run = run_cli(capsys, "--home", env_home, "run", graph, "--json", "--debug")
        env_run = record("run (env keys)", CliResult(env_run.code, env_run.out, env_run.err + caplog.text))
        assert env_run.code == 1, env_run.err
        nodes = env_run.json["nodes"]
        assert nodes["fal"]["status"] == "executed"
        assert nodes["rep"]["status"] == "failed"
        assert "authentication failed for Replicate" in nodes["rep"]["error"]
        assert "HTTP Request: POST" in caplog.text

        stored = record("keys set", _finish(setting, REPLICATE_SECRET + "\n"))
        assert stored.code == 0, stored.err
        assert stored.json["set"] is True and stored.json["source"] == "keychain"

        # Replicate's key from the keychain (accepted); fal's from the environment (answered 401).
        status = _cli(library_home, env, "keys", "status", "replicate", "--json")
        keychain_run = record("run (keychain key)", _finish(
            _cli(library_home, {**env, "FAL_KEY": FAL_SECRET}, "run", graph, "--json", "--debug")))
        deleting = _cli(library_home, env, "keys", "delete", "replicate", "--json")
        status_result = record("keys status", _finish(status))
        assert status_result.code == 0
        assert {k: status_result.json[k] for k in ("provider", "set", "source")} == {
            "provider": "replicate", "set": True, "source": "keychain"}
        assert keychain_run.code == 1, keychain_run.err
        nodes = keychain_run.json["nodes"]
        assert nodes["rep"]["status"] == "executed"
        assert nodes["fal"]["status"] == "failed" and "authentication failed for fal" in nodes["fal"]["error"]
        assert "DEBUG" in keychain_run.err and "HTTP Request: POST" in keychain_run.err  # --debug did log

        # The keys did go where they belong: into the Authorization headers.
        def auth(server: FakeReplicate | FakeFal) -> set[str | None]:
            return {r.headers.get("authorization") for r in server.requests if not r.path.startswith("/files/")}

        assert (auth(rep), auth(fal)) == ({f"Bearer {REPLICATE_SECRET}"}, {f"Key {FAL_SECRET}"})
        assert (auth(env_rep), auth(env_fal)) == ({f"Bearer {ENV_REPLICATE_SECRET}"}, {f"Key {ENV_FAL_SECRET}"})

        # Products, lineage and exports, in this process (while the keychain entry is being deleted).
        exports = library_home / "exports"
        for home, result in ((library_home, keychain_run), (env_home, env_run)):
            [product] = [p["id"] for p in result.json["products"]]
            exported = record("export", run_cli(capsys, "--home", home, "export", product, "--to", exports,
                                                "--json"))
            assert exported.code == 0 and len(exported.json["files"]) >= 2
            shown = record("products show", run_cli(capsys, "--home", home, "products", "show", product, "--json"))
            assert shown.json["provider"] in ("replicate", "fal")
            order = record("orders show", run_cli(capsys, "--home", home, "orders", "show",
                                                  result.json["order_id"], "--json"))
            assert order.code == 0
        env_status = record("keys status (env)", run_cli(capsys, "keys", "status", "fal", "--json"))
        assert env_status.json["set"] is True and env_status.json["source"] == "env"
        deleted = record("keys delete", _finish(deleting))
        # What delete prints is a fresh read of the keychain after the deletion.
        assert deleted.code == 0 and deleted.json["set"] is False and deleted.json["source"] == "none"

        for name, result in outputs:
            _no_secret(f"stdout of {name}", result.out)
            _no_secret(f"stderr of {name}", result.err)
        for home in (library_home, env_home):
            files = [p for p in home.rglob("*") if p.is_file()]
            names = {p.name for p in files}
            assert "library.sqlite3" in names and "settings.json" in names
            assert any(p.suffix == ".png" for p in files if (home / "products") in p.parents)
            for path in files:
                _no_secret(str(path), path.read_bytes())
        assert len(list(exports.iterdir())) >= 4  # two media files and their lineage sidecars
        # The keychain file was written (and emptied again by the delete) outside the libraries.
        assert any((tmp_path / "keychain").rglob("artfactory-test-keychain.json"))
    finally:
        for server in servers:
            server.stop()


def test_database_and_wal_carry_no_key_while_a_run_is_live(tmp_path: Path, library_home: Path,
                                                           replicate: Cloud) -> None:
    """The -wal file only exists while the CLI has the database open: look at every file mid-run."""
    assert isinstance(replicate.server, FakeReplicate)
    replicate.server.token = REPLICATE_SECRET
    replicate.set_slow(True)
    proc = spawn_cli(library_home, "run", _cloud_graph(tmp_path, replicate), "--json", "--debug", **replicate.env())
    _poll("the job id in the database", _remote_jobs(library_home, "gen", 1), proc)
    wal = library_home / "library.sqlite3-wal"
    assert wal.exists() and wal.stat().st_size > 0
    snapshot = {p: p.read_bytes() for p in library_home.rglob("*") if p.is_file()}
    replicate.set_slow(False)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    for path, blob in snapshot.items():
        _no_secret(str(path), blob)
    _no_secret("stdout", out)
    _no_secret("stderr", err)


# --- 7. no key → a clear node error before any request -------------------------------------------------


def test_missing_key_fails_before_any_request(tmp_path: Path, cloud: Cloud, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in cloud.env(with_key=False).items():
        monkeypatch.setenv(name, value)
    result = run_cli(capsys, "run", _cloud_graph(tmp_path, cloud), "--json")
    assert result.code == 1
    data = result.json
    assert data["status"] in ("failed", "partial")
    error = data["nodes"]["gen"]["error"]
    assert data["nodes"]["gen"]["status"] == "failed"
    assert f"no API key for {cloud.display}" in error
    assert f"artfactory keys set {cloud.name}" in error and cloud.key_env in error
    assert data["nodes"]["small"]["status"] == "skipped"
    assert cloud.server.requests == []
    detail = run_cli(capsys, "orders", "show", data["order_id"], "--json").json
    assert next(i for i in detail["items"] if i["node_id"] == "gen")["code"] == "missing_key"
