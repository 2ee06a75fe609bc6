"""Integration fixtures: the fake provider servers and run contexts (see tests/fixtures/providers.py)."""

from tests.fixtures.providers import (  # noqa: F401 - imported fixtures are how pytest finds them
    fake_fal_server,
    fake_replicate_server,
    fal_key,
    make_ctx,
    replicate_key,
    storage,
)
