"""Pushed authorization requests (RFC 9126) with authlib: the request (its PKCE challenge made
by authlib) is pushed with client authentication, the browser goes to authorize with only
client_id and request_uri, and authlib redeems the code; the request_uri is good once, and a
client that requires pushing gets nothing from a plain authorization request."""

from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from conftest import CLIENT_ID, REDIRECT_URI, sign_in

PORT = 18557


@pytest.fixture(scope="module")
def par(server):
    plain = f"{server.issuer}/authorize?" + urlencode(
        {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "scope": "openid"}
    )

    def requires_par():
        return requests.get(plain, allow_redirects=False, timeout=5).status_code == 303

    server.edit_tenant(lambda config: config["clients"][0].update(requirePushedAuthorizationRequests=True), requires_par)
    return server


def test_a_pushed_request_completes_the_flow_once(par):
    metadata = par.metadata()
    state, verifier = generate_token(20), generate_token(48)
    pushed = requests.post(
        metadata["pushed_authorization_request_endpoint"],
        auth=(CLIENT_ID, par.secret),
        data={
            "response_type": "code",
            "redirect_uri": REDIRECT_URI,
            "scope": "openid",
            "state": state,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        },
        timeout=5,
    )
    assert pushed.status_code == 201, pushed.text
    request_uri = pushed.json()["request_uri"]
    url = metadata["authorization_endpoint"] + "?" + urlencode({"client_id": CLIENT_ID, "request_uri": request_uri})
    callback = sign_in(requests.Session(), url, "demo", par.password)
    session = OAuth2Session(CLIENT_ID, par.secret, redirect_uri=REDIRECT_URI, state=state)
    token = session.fetch_token(metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier)
    assert token["id_token"] and token["access_token"]
    again = requests.get(url, allow_redirects=False, timeout=5)
    assert again.status_code == 400 and "location" not in again.headers


def test_a_plain_request_of_a_client_that_requires_pushing_is_refused(par):
    session = OAuth2Session(CLIENT_ID, par.secret, scope="openid", redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    url, _ = session.create_authorization_url(par.metadata()["authorization_endpoint"], code_verifier=generate_token(48))
    answer = requests.get(url, allow_redirects=False, timeout=5)
    back = parse_qs(urlparse(answer.headers["location"]).query)
    assert back["error"] == ["invalid_request"]
    assert "code" not in back
