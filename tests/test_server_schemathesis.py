"""schemathesis against the WSGI app: generated requests for every operation of /openapi.json; no server
error, every status code documented, every response matching its schema."""

from __future__ import annotations

import pytest
import server_corpus as C
from hypothesis import HealthCheck, settings

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ccsgen.server import Settings, make_app  # noqa: E402
from ccsgen.server.app import context_of  # noqa: E402

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    corpus = C.build(tmp_path_factory.mktemp("schemathesis"))
    C.install_fake_services(corpus.cat)  # until ccsgen/search lands; real methods are kept when present
    app = make_app(corpus.cat, Settings(port=None))
    context_of(app).state.set_project(C.PROJECT)  # so the project routes answer 200 too
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_openapi(case):
    # schemathesis' WSGI transport asks for gzip but does not decode it; gzip answers are checked in
    # test_server_cache.py (they decode to the identity body)
    case.call_and_validate(checks=CHECKS, headers={"Accept-Encoding": "identity"})
