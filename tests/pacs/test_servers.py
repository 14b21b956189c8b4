"""Server addresses and secrets (no network)."""

from __future__ import annotations

import stat

import pytest

from viewer.core.pacs.query import Query
from viewer.core.pacs.servers import (
    PacsError,
    credentials_for,
    load_secrets,
    parse_server,
    save_secret,
    secrets_file,
)


def test_dimse_and_dicomweb_addresses():
    dimse = parse_server("dicom://ORTHANC@pacs.example.org:4242")
    assert (dimse.kind, dimse.called_aet, dimse.host, dimse.port, dimse.tls) == (
        "dimse",
        "ORTHANC",
        "pacs.example.org",
        4242,
        False,
    )
    assert parse_server("dicoms://PACS@h:2762").tls
    web = parse_server("https://alice@pacs.example.org:8443/dicom-web/", ca_file="/ca.pem")
    assert (web.kind, web.base_url, web.username, web.ca_file) == (
        "dicomweb",
        "https://pacs.example.org:8443/dicom-web",
        "alice",
        "/ca.pem",
    )
    assert parse_server("http://h/wado").port == 80
    assert parse_server(web.url(), ca_file="/ca.pem") == web


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("dicom://h:104", "AE title"),
        ("dicom://AET@h", "port"),
        ("ftp://h:1", "unknown scheme"),
        ("https://alice:secret@h/dicom-web", "no password"),
        ("dicom://AET@h:99999", "not a server address"),
        ("just words", "not a server address"),
    ],
)
def test_bad_addresses_say_why_in_one_line(text, reason):
    with pytest.raises(PacsError) as caught:
        parse_server(text)
    assert reason in str(caught.value) and "\n" not in str(caught.value)
    assert "secret" not in str(caught.value).split(":", 2)[-1] or reason == "no password"


def test_secrets_live_apart_from_settings_readable_by_owner_only():
    save_secret("hospital", password="pw1")
    save_secret("cloud", token="tok")
    assert stat.S_IMODE(secrets_file().stat().st_mode) == 0o600
    assert load_secrets() == {"hospital": {"password": "pw1"}, "cloud": {"token": "tok"}}
    server = parse_server("https://bob@h/dicom-web", name="hospital")
    assert credentials_for(server, environ={}).password == "pw1"
    assert credentials_for(server, environ={"RADLENS_PACS_PASSWORD": "env"}).password == "env"
    assert "pw1" not in repr(credentials_for(server, environ={}))
    save_secret("hospital")
    assert "hospital" not in load_secrets()


def test_query_checks_level_and_dates():
    assert Query(study_date="20200101-20201231").check()
    assert Query(study_date="-20201231").check()
    for bad in (Query(level="image"), Query(study_date="2020"), Query(study_date="-")):
        with pytest.raises(PacsError):
            bad.check()


def test_dicomweb_session_carries_bearer_or_basic_auth_and_the_ca_file():
    from viewer.core.pacs.dicomweb import make_session
    from viewer.core.pacs.servers import Credentials

    server = parse_server("https://bob@h/dicom-web", ca_file="/etc/ca.pem")
    bearer = make_session(server, Credentials(token="tok"))
    assert bearer.headers["Authorization"] == "Bearer tok" and bearer.verify == "/etc/ca.pem"
    basic = make_session(server, Credentials("bob", "pw"))
    assert basic.auth == ("bob", "pw") and "Authorization" not in basic.headers
    assert not basic.trust_env  # no proxy settings from the environment see the secrets
