"""The provider registry: a provider declared once shows up in settings, keys, the node catalogue and runs."""

from __future__ import annotations

import base64
import dataclasses
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest

from artfactory.config import Settings
from artfactory.controllers.schema_controller import SchemaController
from artfactory.engine.nodetypes import NewMedia, NodeError, Param
from artfactory.engine.registry import NodeRegistry, _load_builtin
from artfactory.providers import registry
from artfactory.providers.connection import check_connection
from artfactory.providers.http import ProviderError
from artfactory.providers.registry import Finished, NodeSpec, Progress, ProviderSpec, UrlSetting
from artfactory.providers.schemas import fetch_schema
from artfactory.services import secrets
from artfactory.services.storage import LibraryStorage
from nodes.provider_cloud import cloud_node
from tests.fixtures.fake_server import png_bytes
from tests.fixtures.providers import RecordingContext

TOY_KEY = "toy_0123456789abcdefXYZ"
PNG = png_bytes()


class ToyClient:
    """An in-process job API: a job is done on its second poll and returns one PNG as a data: URI."""

    JOB_NOUN = "toy job"
    JOB_ID_FIELD = "id"
    created: list[dict[str, Any]] = []

    def __init__(self, settings: Any, key: str, cancelled: Callable[[], bool] | None = None) -> None:
        if key != TOY_KEY:
            raise ProviderError("toy: the key was refused", "auth")
        self.base = TOY_URL.read(settings)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        pass

    def create_job(self, model: str, input: dict[str, Any], params: Mapping[str, Any],
                   on_abandoned: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        job = {"id": f"job-{len(self.created) + 1}", "model": model, "input": input, "polls": 0}
        self.created.append(job)
        return job

    def resume_state(self, job: dict[str, Any], model: str) -> dict[str, Any]:
        return {"model": model}

    def resume_job(self, remembered: dict[str, Any], model: str) -> dict[str, Any]:
        return {"id": remembered["job_id"], "model": model, "polls": 1}

    def poll_job(self, job: dict[str, Any], on_update: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        while job["polls"] < 2:
            job["polls"] += 1
            on_update({"state": "running" if job["polls"] == 1 else "done", "percent": 50.0})
        return job

    def fetch_outputs(self, job: dict[str, Any], final: dict[str, Any], times: dict[str, str]) -> Finished:
        uri = "data:image/png;base64," + base64.b64encode(PNG).decode("ascii")
        return Finished(job_id=job["id"], files=[uri], seed=42, meta={"toy_job": job["id"], "base": self.base,
                                                                      "timings": dict(times)})

    def cancel_soon(self, job: dict[str, Any], foreground_s: float = 1.0) -> None:
        pass

    def remember_or_stop(self, ctx: Any, job: dict[str, Any], state: dict[str, Any]) -> None:
        ctx.remember_remote(job["id"], state)


def _progress(status: dict[str, Any]) -> Progress | None:
    return Progress(status.get("percent"), "painting", status["state"])


def _check(settings: Any, key: str) -> str:
    with ToyClient(settings, key):
        return "Connected to Toy"


def _schema(settings: Any, key: str | None, model: str) -> dict[str, Any]:
    return {"input": {"type": "object", "properties": {"steps": {"type": "integer", "default": 4}}}}


TOY_URL = UrlSetting("toy_base_url", "ARTFACTORY_TOY_BASE_URL", "http://127.0.0.1:9/toy")
TOY = ProviderSpec(
    id="toy", name="Toy Cloud", key_env="TOY_API_KEY", keychain_user="toy-user", key_pattern=r"\btoy_[A-Za-z0-9]{16,}",
    base_url=TOY_URL, default_concurrency=3, concurrency_setting=None, client=ToyClient, progress=_progress,
    check_connection=_check, fetch_schema=_schema,
    node=NodeSpec(model=Param("model", "string", "toy/one", "toy model", required=True), image_field="picture",
                  doc="Runs a toy model.", extra_params=(Param("steps", "int", 4, "steps", minimum=1),)),
)


@pytest.fixture
def toy() -> Iterator[ProviderSpec]:
    ToyClient.created = []
    with registry.registered(TOY) as spec:
        yield spec


def test_a_registered_provider_appears_everywhere_without_other_edits(
        toy: ProviderSpec, tmp_path: Path, memory_keyring: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings: its limit, from the declared default (it has no settings field).
    assert Settings().provider_limits()["toy"] == 3
    # Keys: status, keychain entry under its declared username, the environment override, its messages.
    assert secrets.key_status("toy") == {"provider": "toy", "name": "Toy Cloud", "env": "TOY_API_KEY",
                                         "set": False, "source": "none"}
    assert "artfactory keys set toy" in str(secrets.MissingKeyError("toy"))
    secrets.set_key("toy", TOY_KEY)
    assert memory_keyring.store[("artfactory", "toy-user")] == TOY_KEY
    assert secrets.key_status("toy")["source"] == "keychain"
    assert "toy" in registry.cloud_ids() and registry.get("toy") is toy
    # Its key format is scrubbed even when this process never saw the key.
    assert secrets.redact("leaked toy_abcdefABCDEF0123456789 here") == "leaked *** here"
    # Connection test and schema form read the spec.
    assert check_connection("toy", Settings(), TOY_KEY) == "Connected to Toy"
    assert SchemaController.model_param("provider.toy") == "model"
    assert fetch_schema("toy", "toy/one", settings=Settings(), api_key=None)["input"]["type"] == "object"
    # The node catalogue: a fresh catalogue finds provider.toy, with the params the spec declares.
    catalogue = NodeRegistry()
    _load_builtin(catalogue)
    node = catalogue.get("provider.toy")
    assert node is not None and node.provider == "toy" and node.title == "Toy Cloud"
    assert [p.name for p in node.params] == ["model", "input", "seed", "steps", "image_field", "media_inputs"]
    # And it runs through the one generic run function: key, create, remember, poll, outputs, product meta.
    monkeypatch.setenv("ARTFACTORY_TOY_BASE_URL", "http://127.0.0.1:9/elsewhere")
    storage = LibraryStorage(tmp_path / "lib", 1 << 20)
    storage.ensure_layout()
    ctx = RecordingContext(node_id="n", order_id="o", home=tmp_path, settings=Settings(), storage=storage)
    out = node.run(ctx, {"prompt": "a fox"}, {**node.defaults(), "seed": 5})
    [media] = out["media"]
    assert isinstance(media, NewMedia) and media.file is not None and Path(media.file).read_bytes() == PNG
    assert ctx.remembered == [("job-1", {"provider": "toy", "model": "toy/one", "item_index": 0})]
    assert ToyClient.created[0]["input"] == {"prompt": "a fox", "seed": 5}
    meta = media.meta
    assert (meta["provider"], meta["model"], meta["seed"], meta["toy_job"]) == ("toy", "toy/one", 42, "job-1")
    assert meta["base"] == "http://127.0.0.1:9/elsewhere"  # the declared environment variable is read
    assert set(meta["timings"]) == {"created", "started", "completed"}
    assert (45.0, "painting") in ctx.progress_events and ctx.progress_events[-1] == (100.0, "done")


def test_a_toy_run_without_a_key_fails_before_any_request(toy: ProviderSpec, tmp_path: Path) -> None:
    ctx = RecordingContext(node_id="n", order_id="o", home=tmp_path, settings=Settings(), storage=None)
    node = cloud_node("toy")
    with pytest.raises(NodeError, match="no API key for Toy Cloud") as raised:
        node.run(ctx, {"prompt": "a fox"}, node.defaults())
    assert raised.value.code == "missing_key" and ToyClient.created == []


def test_unregistered_providers_are_gone_everywhere() -> None:
    assert registry.find("toy") is None
    assert "toy" not in Settings().provider_limits()
    with pytest.raises(secrets.SecretsError, match="unknown provider 'toy'"):
        secrets.key_status("toy")
    catalogue = NodeRegistry()
    _load_builtin(catalogue)
    assert "provider.toy" not in catalogue and "provider.replicate" in catalogue


def test_a_provider_id_is_registered_once() -> None:
    with registry.registered(TOY), pytest.raises(ValueError, match="already registered"):
        registry.register(dataclasses.replace(TOY))


def test_declared_settings_agree_with_the_settings_fields() -> None:
    """A provider naming a Settings field must declare what that field declares (env, default, limit)."""
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    for spec in registry.cloud():
        for url in spec.url_settings():
            if url.name in fields:
                assert fields[url.name].metadata["env"] == url.env, spec.id
                assert fields[url.name].default == url.default, spec.id
        if spec.concurrency_setting is not None:
            assert fields[spec.concurrency_setting].default == spec.default_concurrency, spec.id
        assert Settings().provider_limits()[spec.id] == spec.default_concurrency


def test_settings_limits_follow_each_providers_setting() -> None:
    settings = Settings(concurrency_replicate=7, concurrency_fal=2)
    assert settings.provider_limits() == {"local": settings.local_concurrency(), "replicate": 7, "fal": 2,
                                          "openai": registry.get("openai").default_concurrency}


def test_the_keys_choices_load_no_provider_module() -> None:
    """`artfactory keys` builds its choices from cloud_ids(): that must not import HTTP clients (CLI start-up)."""
    code = ("import sys; from artfactory.providers import registry; ids = registry.cloud_ids(); "
            "print(ids, 'httpx' in sys.modules, 'artfactory.providers.replicate' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['replicate', 'fal', 'openai'] False False"
    assert registry.cloud_ids() == [spec.id for spec in registry.all()]
