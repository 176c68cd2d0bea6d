"""Logout through authlib: the code flow's ID token carries `sid` (validated by authlib.jose
against the JWKS), RP-initiated logout with id_token_hint, post_logout_redirect_uri and state
ends the session, and the back-channel logout token the client receives validates with
authlib.jose as a relying party must. An unregistered post_logout_redirect_uri is refused."""

import queue
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt

from conftest import CLIENT_ID, REDIRECT_URI, sign_in

PORT = 18555
LOGGED_OUT = "http://127.0.0.1:9999/bye"
EVENT = "http://schemas.openid.net/event/backchannel-logout"
logout_tokens = queue.Queue()


class BackchannelEndpoint(BaseHTTPRequestHandler):
    """The demo client's back-channel logout endpoint."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"])).decode()
        logout_tokens.put(parse_qs(body)["logout_token"][0])
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def logout_server(server):
    endpoint = HTTPServer(("127.0.0.1", 0), BackchannelEndpoint)
    threading.Thread(target=endpoint.serve_forever, daemon=True).start()
    backchannel = f"http://127.0.0.1:{endpoint.server_port}/backchannel"

    def register(config):
        config["clients"][0]["postLogoutRedirectUris"] = [LOGGED_OUT]
        config["clients"][0]["backchannelLogoutUri"] = backchannel

    probe = f"{server.issuer}/logout?" + urlencode(
        {"client_id": CLIENT_ID, "post_logout_redirect_uri": LOGGED_OUT}
    )
    server.edit_tenant(register, lambda: requests.get(probe, allow_redirects=False, timeout=5).status_code == 303)
    yield server
    endpoint.shutdown()


def signed_in(server):
    """A browser signed in through authlib's code flow; its session and the validated ID
    token claims."""
    metadata = server.metadata()
    session = OAuth2Session(
        CLIENT_ID, server.secret, scope="openid", redirect_uri=REDIRECT_URI, code_challenge_method="S256"
    )
    verifier = "l" * 64
    url, _ = session.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier, nonce="n-1")
    browser = requests.Session()
    callback = sign_in(browser, url, "demo", server.password)
    token = session.fetch_token(metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier)
    keys = JsonWebKey.import_key_set(requests.get(metadata["jwks_uri"], timeout=5).json())
    claims = jwt.decode(
        token["id_token"],
        keys,
        claims_options={"iss": {"essential": True, "value": server.issuer}, "aud": {"essential": True, "value": CLIENT_ID}},
    )
    claims.validate()
    return browser, token["id_token"], claims, keys


def has_session(server, browser):
    params = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "scope": "openid", "prompt": "none"}
    answer = browser.get(f"{server.issuer}/authorize", params=params, allow_redirects=False, timeout=5)
    return "code" in parse_qs(urlparse(answer.headers["location"]).query)


def test_rp_initiated_logout_ends_the_session_and_tells_the_client(logout_server):
    server = logout_server
    metadata = server.metadata()
    assert metadata["backchannel_logout_supported"] is True
    browser, id_token, claims, keys = signed_in(server)
    assert claims["sid"]
    params = {"id_token_hint": id_token, "post_logout_redirect_uri": LOGGED_OUT, "state": "bye-1"}
    answer = browser.get(metadata["end_session_endpoint"], params=params, allow_redirects=False, timeout=5)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{LOGGED_OUT}?state=bye-1"
    assert not has_session(server, browser)

    logout_token = logout_tokens.get(timeout=10)
    assert jwt.decode(logout_token, keys).header["typ"] == "logout+jwt"
    logout = jwt.decode(
        logout_token,
        keys,
        claims_options={
            "iss": {"essential": True, "value": server.issuer},
            "aud": {"essential": True, "value": CLIENT_ID},
            "sid": {"essential": True, "value": claims["sid"]},
            "jti": {"essential": True},
            "iat": {"essential": True},
        },
    )
    logout.validate()
    assert logout["sub"] == "demo"
    assert logout["events"] == {EVENT: {}}
    assert "nonce" not in logout


def test_an_unregistered_post_logout_redirect_uri_is_refused(logout_server):
    server = logout_server
    browser, id_token, _, _ = signed_in(server)
    params = {"id_token_hint": id_token, "post_logout_redirect_uri": "https://evil.example/bye"}
    answer = browser.get(server.metadata()["end_session_endpoint"], params=params, allow_redirects=False, timeout=5)
    assert answer.status_code == 400
    assert "location" not in answer.headers
    assert has_session(server, browser), "nothing ended"
