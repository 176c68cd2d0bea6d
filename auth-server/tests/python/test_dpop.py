"""DPoP (RFC 9449) with authlib: authlib has no DPoP client, so the proofs are built with its
JOSE implementation (authlib.jose, on pyca/cryptography) and sent beside authlib's own token
requests. A confidential client's client_credentials token and a public client's code-flow
tokens are bound to the proof's key (cnf.jkt, token_type DPoP); userinfo needs the key's proof
with ath; a proof is good once; another key cannot refresh the public client's token."""

import base64
import hashlib
import json
import secrets
import time

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, JsonWebSignature

from conftest import CLIENT_ID, REDIRECT_URI, sign_in

PORT = 18562
PUBLIC_CLIENT = "dpop-app"


class DpopKey:
    def __init__(self):
        self.key = JsonWebKey.generate_key("EC", "P-256", is_private=True)
        self.public = self.key.as_dict(is_private=False)

    def thumbprint(self):
        return self.key.thumbprint()

    def proof(self, htm, htu, access_token=None):
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.public}
        claims = {"jti": secrets.token_urlsafe(16), "htm": htm, "htu": htu, "iat": int(time.time())}
        if access_token:
            digest = hashlib.sha256(access_token.encode()).digest()
            claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        return JsonWebSignature(algorithms=["ES256"]).serialize_compact(header, jwt_bytes(claims), self.key).decode()


def jwt_bytes(claims):
    return json.dumps(claims).encode()


def payload(token):
    """A JWT's claims, unverified (the test trusts the server it started)."""
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


@pytest.fixture(scope="module")
def dpop(server):
    def add_public_client(config):
        config["clients"].append(
            {
                "clientId": PUBLIC_CLIENT,
                "kind": "public",
                "grantTypes": ["authorization_code", "refresh_token"],
                "redirectUris": [REDIRECT_URI],
                "scopes": ["openid", "email"],
                "dpopBoundAccessTokens": True,
            }
        )

    def served():
        url = f"{server.issuer}/authorize?response_type=code&client_id={PUBLIC_CLIENT}&redirect_uri={REDIRECT_URI}"
        return requests.get(url, allow_redirects=False, timeout=5).status_code == 303

    server.edit_tenant(add_public_client, served)
    return server


def test_a_client_credentials_token_is_bound_to_the_proofs_key(dpop):
    metadata = dpop.metadata()
    assert "ES256" in metadata["dpop_signing_alg_values_supported"]
    key = DpopKey()
    session = OAuth2Session(CLIENT_ID, dpop.secret)
    proof = key.proof("POST", metadata["token_endpoint"])
    token = session.fetch_token(metadata["token_endpoint"], grant_type="client_credentials", headers={"DPoP": proof})
    assert token["token_type"] == "DPoP"
    assert payload(token["access_token"])["cnf"]["jkt"] == key.thumbprint()
    introspected = requests.post(
        metadata["introspection_endpoint"], auth=(CLIENT_ID, dpop.secret), data={"token": token["access_token"]}, timeout=5
    ).json()
    assert introspected["active"] and introspected["cnf"]["jkt"] == key.thumbprint()
    with pytest.raises(OAuthError) as replayed:
        session.fetch_token(metadata["token_endpoint"], grant_type="client_credentials", headers={"DPoP": proof})
    assert replayed.value.error == "invalid_dpop_proof"


def test_a_public_clients_tokens_need_the_same_key(dpop):
    metadata = dpop.metadata()
    key, verifier = DpopKey(), generate_token(48)
    session = OAuth2Session(
        PUBLIC_CLIENT, scope="openid email", redirect_uri=REDIRECT_URI,
        token_endpoint_auth_method="none", code_challenge_method="S256",
    )
    url, state = session.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier)
    callback = sign_in(requests.Session(), url, "demo", dpop.password)
    with pytest.raises(OAuthError) as without:
        session.fetch_token(metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier)
    assert without.value.error == "invalid_dpop_proof", "this client must use DPoP"
    token = session.fetch_token(
        metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier,
        headers={"DPoP": key.proof("POST", metadata["token_endpoint"])},
    )
    assert token["token_type"] == "DPoP"
    access = token["access_token"]
    userinfo = metadata["userinfo_endpoint"]
    bearer = requests.get(userinfo, headers={"Authorization": f"Bearer {access}"}, timeout=5)
    assert bearer.status_code == 401 and bearer.headers["www-authenticate"].startswith("DPoP ")
    bound = requests.get(
        userinfo,
        headers={"Authorization": f"DPoP {access}", "DPoP": key.proof("GET", userinfo, access)},
        timeout=5,
    )
    assert bound.status_code == 200 and bound.json()["sub"] == "demo"

    refresh = token["refresh_token"]
    with pytest.raises(OAuthError) as stolen:
        session.refresh_token(
            metadata["token_endpoint"], refresh_token=refresh,
            headers={"DPoP": DpopKey().proof("POST", metadata["token_endpoint"])},
        )
    assert stolen.value.error == "invalid_dpop_proof"
    refreshed = session.refresh_token(
        metadata["token_endpoint"], refresh_token=refresh,
        headers={"DPoP": key.proof("POST", metadata["token_endpoint"])},
    )
    assert payload(refreshed["access_token"])["cnf"]["jkt"] == key.thumbprint()
