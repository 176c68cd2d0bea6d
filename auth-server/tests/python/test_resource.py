"""Resource indicators (RFC 8707) through authlib: `resource` on client_credentials and on the
authorization request of a code flow (kept across a refresh) selects the access token's aud
among the client's registered resources; any other is invalid_target."""

import base64
import json

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from conftest import CLIENT_ID, REDIRECT_URI, sign_in

PORT = 18556
ORDERS = "https://orders.example/"


def aud(jwt):
    part = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))["aud"]


@pytest.fixture(scope="module")
def resources(server):
    def probe():
        form = {"grant_type": "client_credentials", "scope": "api", "resource": ORDERS}
        answer = requests.post(f"{server.issuer}/token", data=form, auth=(CLIENT_ID, server.secret), timeout=5)
        return answer.status_code == 200

    server.edit_tenant(lambda config: config["clients"][0].update(resources=[ORDERS]), probe)
    return server


def session(server, **kwargs):
    return OAuth2Session(CLIENT_ID, server.secret, **kwargs)


def test_client_credentials_select_a_registered_resource(resources):
    token_endpoint = resources.metadata()["token_endpoint"]
    token = session(resources, scope="api").fetch_token(
        token_endpoint, grant_type="client_credentials", resource=ORDERS
    )
    assert aud(token["access_token"]) == ORDERS
    plain = session(resources, scope="api").fetch_token(token_endpoint, grant_type="client_credentials")
    assert aud(plain["access_token"]) == resources.issuer


def test_an_unregistered_resource_is_invalid_target(resources):
    token_endpoint = resources.metadata()["token_endpoint"]
    with pytest.raises(OAuthError) as refused:
        session(resources, scope="api").fetch_token(
            token_endpoint, grant_type="client_credentials", resource="https://evil.example/"
        )
    assert refused.value.error == "invalid_target"


def test_a_code_flow_for_a_resource_keeps_it_across_a_refresh(resources):
    metadata = resources.metadata()
    client = session(resources, scope="openid", redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    verifier = "r" * 64
    url, _ = client.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier, resource=ORDERS)
    callback = sign_in(requests.Session(), url, "demo", resources.password)
    token = client.fetch_token(metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier)
    assert aud(token["access_token"]) == ORDERS
    refreshed = client.refresh_token(metadata["token_endpoint"], refresh_token=token["refresh_token"])
    assert aud(refreshed["access_token"]) == ORDERS
    with pytest.raises(OAuthError) as refused:
        client.refresh_token(
            metadata["token_endpoint"], refresh_token=refreshed["refresh_token"], resource="https://evil.example/"
        )
    assert refused.value.error == "invalid_target"
