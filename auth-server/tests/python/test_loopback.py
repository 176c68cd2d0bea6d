"""RFC 8252 §7.3 through authlib, as a native app runs it: the app listens on an ephemeral
loopback port, the tenant registered its redirect URI without a port, and the code flow
completes through whatever port the app got; `localhost` gets no such leeway."""

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from conftest import CLIENT_ID, sign_in

PORT = 18554


def login_page_status(server, redirect_uri):
    params = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": redirect_uri, "scope": "openid"}
    return requests.get(f"{server.issuer}/authorize", params=params, allow_redirects=False, timeout=5).status_code


@pytest.fixture(scope="module")
def native(server):
    def register(config):
        config["clients"][0]["redirectUris"] += ["http://127.0.0.1/native", "http://localhost/native"]

    server.edit_tenant(register, lambda: login_page_status(server, "http://127.0.0.1:1/native") == 200)
    return server


class AppListener(BaseHTTPRequestHandler):
    """What a native app opens on an ephemeral loopback port to receive its redirect."""

    received = []

    def do_GET(self):
        AppListener.received.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"You can close this window.")

    def log_message(self, *args):
        pass


def session_for(server, redirect_uri):
    return OAuth2Session(
        CLIENT_ID,
        server.secret,
        scope="openid",
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )


def test_a_native_app_completes_the_flow_through_its_ephemeral_port(native):
    app = HTTPServer(("127.0.0.1", 0), AppListener)
    threading.Thread(target=app.handle_request, daemon=True).start()
    try:
        redirect_uri = f"http://127.0.0.1:{app.server_port}/native"
        metadata = native.metadata()
        session = session_for(native, redirect_uri)
        verifier = "n" * 64
        url, _ = session.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier)
        callback = sign_in(requests.Session(), url, "demo", native.password)
        assert callback.startswith(redirect_uri + "?"), callback
        requests.get(callback, timeout=5)
        assert AppListener.received and AppListener.received[0].startswith("/native?code=")
        token = session.fetch_token(
            metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier
        )
        assert token["access_token"] and token["id_token"]
    finally:
        app.server_close()


def test_localhost_registered_without_a_port_does_not_take_any_port(native):
    session = session_for(native, "http://localhost:53412/native")
    url, _ = session.create_authorization_url(native.metadata()["authorization_endpoint"], code_verifier="n" * 64)
    page = requests.get(url, allow_redirects=False, timeout=5)
    assert page.status_code == 400
    assert "location" not in page.headers
    assert "redirect_uri is not registered" in page.text
