"""CORS seen through authlib: its session sends the Origin a browser page would, and each
answer of discovery, JWKS, token, userinfo and revocation must allow exactly an origin the
client registered (the demo client's redirect URI is on http://127.0.0.1:9999)."""

import requests
from authlib.integrations.requests_client import OAuth2Session

from conftest import CLIENT_ID, REDIRECT_URI, sign_in

PORT = 18553
REGISTERED = "http://127.0.0.1:9999"
STRANGER = "https://evil.example"


def code_flow(server, origin):
    """A code flow with PKCE where every request to the server comes from `origin`; returns
    what each endpoint's answer allowed."""
    allowed = {}

    def record(response, *args, **kwargs):
        endpoint = response.url.split("?")[0].rsplit("/", 1)[-1]
        allowed[endpoint] = response.headers.get("access-control-allow-origin")

    metadata = requests.get(
        f"{server.issuer}/.well-known/openid-configuration",
        headers={"origin": origin},
        hooks={"response": record},
        timeout=5,
    ).json()
    requests.get(metadata["jwks_uri"], headers={"origin": origin}, hooks={"response": record}, timeout=5)
    session = OAuth2Session(
        CLIENT_ID,
        server.secret,
        scope="openid email",
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
    )
    session.headers["origin"] = origin
    session.hooks["response"].append(record)
    verifier = "v" * 64
    url, state = session.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier)
    callback = sign_in(requests.Session(), url, "demo", server.password)
    token = session.fetch_token(
        metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier
    )
    assert token["token_type"] == "Bearer" and token["id_token"]
    userinfo = session.get(metadata["userinfo_endpoint"])
    assert userinfo.json()["sub"] == "demo"
    session.revoke_token(metadata["revocation_endpoint"], token["refresh_token"])
    return allowed


def test_a_registered_origin_may_read_every_answer_of_the_flow(server):
    allowed = code_flow(server, REGISTERED)
    for endpoint in ["openid-configuration", "jwks.json", "token", "userinfo", "revoke"]:
        assert allowed[endpoint] == REGISTERED, endpoint


def test_an_unregistered_origin_is_allowed_nothing(server):
    allowed = code_flow(server, STRANGER)
    for endpoint in ["openid-configuration", "jwks.json", "token", "userinfo", "revoke"]:
        assert endpoint in allowed, endpoint
        assert allowed[endpoint] is None, endpoint


def test_preflights_are_answered_for_registered_origins_only(server):
    def preflight(path, origin):
        return requests.options(
            f"{server.issuer}{path}",
            headers={"origin": origin, "access-control-request-method": "POST"},
            timeout=5,
        )

    ok = preflight("/token", REGISTERED)
    assert ok.headers.get("access-control-allow-origin") == REGISTERED
    assert "POST" in ok.headers["access-control-allow-methods"]
    assert preflight("/token", STRANGER).headers.get("access-control-allow-origin") is None
    login = preflight("/login", REGISTERED)
    assert login.headers.get("access-control-allow-origin") is None, "never on login"
