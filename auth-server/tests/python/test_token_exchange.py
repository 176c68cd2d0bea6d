"""Token exchange (RFC 8693) with authlib: authlib's OAuth2Session sends the exchange grant
(with client_secret_basic) for the demo user's access token, which authlib got through the
code flow, and gets one for another API within the client's policy; a scope outside the
policy is invalid_scope, a forged subject token invalid_request."""

import base64
import json

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from conftest import CLIENT_ID, REDIRECT_URI, sign_in

PORT = 18566
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
ORDERS = "https://orders.example/"


@pytest.fixture(scope="module")
def exchanging(server):
    def allow(config):
        config["clients"][0]["grantTypes"].append(EXCHANGE)
        config["clients"][0]["tokenExchange"] = {"audiences": [ORDERS], "scopes": ["api"]}

    def served():
        own = requests.post(
            server.metadata()["token_endpoint"], auth=(CLIENT_ID, server.secret),
            data={"grant_type": "client_credentials", "scope": "api"}, timeout=5,
        ).json()["access_token"]
        answer = requests.post(
            server.metadata()["token_endpoint"], auth=(CLIENT_ID, server.secret),
            data={"grant_type": EXCHANGE, "subject_token": own, "subject_token_type": ACCESS}, timeout=5,
        )
        return answer.status_code == 200

    server.edit_tenant(allow, served)
    return server


def user_access_token(server):
    metadata = server.metadata()
    verifier = generate_token(48)
    session = OAuth2Session(CLIENT_ID, server.secret, scope="openid api", redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    url, _ = session.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier)
    callback = sign_in(requests.Session(), url, "demo", server.password)
    return session.fetch_token(metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier)["access_token"]


def claims(token):
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_a_user_token_is_exchanged_within_the_policy(exchanging):
    subject = user_access_token(exchanging)
    session = OAuth2Session(CLIENT_ID, exchanging.secret)
    token = session.fetch_token(
        exchanging.metadata()["token_endpoint"], grant_type=EXCHANGE,
        subject_token=subject, subject_token_type=ACCESS, audience=ORDERS,
    )
    assert token["issued_token_type"] == ACCESS
    issued = claims(token["access_token"])
    assert (issued["sub"], issued["aud"], issued["scope"]) == ("demo", ORDERS, "api")


def test_outside_the_policy_or_with_a_bad_subject_token_is_refused(exchanging):
    session = OAuth2Session(CLIENT_ID, exchanging.secret)
    endpoint = exchanging.metadata()["token_endpoint"]
    subject = user_access_token(exchanging)
    with pytest.raises(OAuthError) as wider:
        session.fetch_token(endpoint, grant_type=EXCHANGE, subject_token=subject, subject_token_type=ACCESS, scope="openid")
    assert wider.value.error == "invalid_scope"
    with pytest.raises(OAuthError) as forged:
        session.fetch_token(endpoint, grant_type=EXCHANGE, subject_token=subject[:-4] + "AAAA", subject_token_type=ACCESS)
    assert forged.value.error == "invalid_request"
