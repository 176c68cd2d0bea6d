"""A FAPI 2.0 tenant with authlib: the demo client, registered for private_key_jwt with an
RSA key, pushes its request with authlib's PrivateKeyJWT client authentication (PS256, the
PAR endpoint as audience, RFC 9126 §2) and PKCE, and redeems the code through authlib with
a DPoP proof (built with authlib.jose); the tokens are DPoP-bound. A plain authorization
request, a token request without DPoP and an RS256 assertion (FAPI 2.0 §5.4.1 allows PS256,
ES256 and EdDSA only) are refused."""

from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from conftest import CLIENT_ID, REDIRECT_URI, sign_in
from test_dpop import DpopKey

PORT = 18568


@pytest.fixture(scope="module")
def fapi(server):
    key = JsonWebKey.generate_key("RSA", 2048, is_private=True)
    jwk = dict(key.as_dict(is_private=False), kid="fapi-py")

    def enable(config):
        config["fapi2"] = True
        config["clients"][0].update(tokenEndpointAuthMethod="private_key_jwt", jwks={"keys": [jwk]})

    server.edit_tenant(enable, lambda: server.metadata()["require_pushed_authorization_requests"] is True)
    return server, key.as_pem(is_private=True)


def session(server, pem, audience=None, alg="PS256", **kwargs):
    audience = audience or server.metadata()["token_endpoint"]
    auth = PrivateKeyJWT(audience, headers={"kid": "fapi-py"}, alg=alg)
    return OAuth2Session(CLIENT_ID, pem, token_endpoint_auth_method=auth, **kwargs)


def push(server, pusher, state, verifier):
    metadata = server.metadata()
    return requests.post(
        metadata["pushed_authorization_request_endpoint"],
        data={
            "response_type": "code", "redirect_uri": REDIRECT_URI, "scope": "openid", "state": state,
            "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256",
            "client_id": CLIENT_ID,
        },
        auth=pusher.client_auth(pusher.token_endpoint_auth_method),
        timeout=5,
    )


def test_a_pushed_flow_gets_dpop_bound_tokens(fapi):
    server, pem = fapi
    metadata = server.metadata()
    verifier, state = generate_token(48), generate_token(20)
    # authlib's own client authentication (its PrivateKeyJWT), on the pushed request, for
    # the PAR endpoint as audience.
    pusher = session(server, pem, audience=metadata["pushed_authorization_request_endpoint"])
    pushed = push(server, pusher, state, verifier)
    assert pushed.status_code == 201, pushed.text
    url = metadata["authorization_endpoint"] + "?" + urlencode({"client_id": CLIENT_ID, "request_uri": pushed.json()["request_uri"]})
    callback = sign_in(requests.Session(), url, "demo", server.password)
    assert parse_qs(urlparse(callback).query)["iss"] == [server.issuer]
    redeemer = session(server, pem, redirect_uri=REDIRECT_URI, state=state)
    with pytest.raises(OAuthError) as undpopped:
        redeemer.fetch_token(metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier)
    assert undpopped.value.error == "invalid_dpop_proof"
    dpop = DpopKey()
    token = redeemer.fetch_token(
        metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier,
        headers={"DPoP": dpop.proof("POST", metadata["token_endpoint"])},
    )
    assert token["token_type"] == "DPoP"


def test_a_plain_authorization_request_is_refused(fapi):
    server, _ = fapi
    plain = OAuth2Session(CLIENT_ID, scope="openid", redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    url, _ = plain.create_authorization_url(server.metadata()["authorization_endpoint"], code_verifier=generate_token(48))
    answer = requests.get(url, allow_redirects=False, timeout=5)
    assert parse_qs(urlparse(answer.headers["location"]).query)["error"] == ["invalid_request"]


def test_rs256_is_neither_advertised_nor_accepted(fapi):
    server, pem = fapi
    metadata = server.metadata()
    for field in ("token_endpoint_auth_signing_alg_values_supported", "dpop_signing_alg_values_supported"):
        assert "RS256" not in metadata[field] and "PS256" in metadata[field], field
    refused = push(server, session(server, pem, alg="RS256"), generate_token(20), generate_token(48))
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_client", refused.text
    # The same request signed with PS256 is accepted: only the algorithm differs.
    accepted = push(server, session(server, pem), generate_token(20), generate_token(48))
    assert accepted.status_code == 201, accepted.text
