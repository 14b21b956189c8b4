"""HTTPS and DICOM TLS against a real Orthanc with a self-signed certificate: trusted through
`--ca-file`, refused (one line) without it."""

from __future__ import annotations

import pytest

from tests.pacs.orthanc import missing_reason, start_orthanc
from tests.pacs.test_orthanc import run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tls_orthanc(tmp_path_factory):
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    server = start_orthanc(tmp_path_factory.mktemp("orthanc-tls"), tls=True)
    yield server
    server.stop()


@pytest.mark.usefixtures("web_password")
@pytest.mark.parametrize("kind", ["dimse", "web"])
def test_tls_with_the_servers_certificate(tls_orthanc, capsys, kind):
    server = tls_orthanc.dimse_url if kind == "dimse" else tls_orthanc.web_url
    status, out, err = run_cli(capsys, "echo", "--server", server, "--ca-file", tls_orthanc.ca_file)
    assert status == 0 and "OK" in out, err
    status, out, err = run_cli(
        capsys, "find", "--server", server, "--ca-file", tls_orthanc.ca_file, "--json"
    )
    assert status == 0 and out.strip() == "[]", err
    status, _, err = run_cli(capsys, "echo", "--server", server)  # the system's trust only
    assert status == 1 and err.count("\n") == 1 and server.split("@")[-1] in err
    assert "TLS failed (certificate verify failed)" in err
