"""Fixtures for collector tests: a fake source and the default collection config."""

import pytest

from sysmond.config import CollectionConfig
from tests.collectors.fakes import FakeSource


@pytest.fixture
def source() -> FakeSource:
    return FakeSource()


@pytest.fixture
def config() -> CollectionConfig:
    return CollectionConfig()
