"""private_key_jwt (RFC 7523) with authlib: a confidential client registered with the public
half of an RSA key (made by authlib.jose) gets a client_credentials token through authlib's
PrivateKeyJWT (RS256, aud the token endpoint); the same assertion twice, one for another
audience and one signed by another key are invalid_client."""

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign

PORT = 18564
CLIENT = "keyed-py"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture(scope="module")
def keyed(server):
    key = JsonWebKey.generate_key("RSA", 2048, is_private=True)
    jwk = dict(key.as_dict(is_private=False), kid="py-1", use="sig")

    def register(config):
        config["clients"].append(
            {
                "clientId": CLIENT,
                "kind": "confidential",
                "grantTypes": ["client_credentials"],
                "scopes": ["api"],
                "tokenEndpointAuthMethod": "private_key_jwt",
                "jwks": {"keys": [jwk]},
            }
        )

    def served():
        return token_with(server, assertion(server, key)).status_code == 200

    server.edit_tenant(register, served)
    return server, key


def assertion(server, key, audience=None):
    audience = audience or server.metadata()["token_endpoint"]
    return private_key_jwt_sign(key, CLIENT, audience, alg="RS256", header={"kid": "py-1"})


def token_with(server, signed):
    data = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, "client_assertion": signed}
    return requests.post(server.metadata()["token_endpoint"], data=data, timeout=5)


def test_authlibs_private_key_jwt_gets_a_token(keyed):
    server, key = keyed
    metadata = server.metadata()
    assert "private_key_jwt" in metadata["token_endpoint_auth_methods_supported"]
    session = OAuth2Session(CLIENT, key.as_pem(is_private=True), token_endpoint_auth_method=PrivateKeyJWT(metadata["token_endpoint"], headers={"kid": "py-1"}))
    token = session.fetch_token(metadata["token_endpoint"], grant_type="client_credentials", scope="api")
    assert token["token_type"] == "Bearer" and token["scope"] == "api"


def test_a_reused_foreign_or_forged_assertion_is_refused(keyed):
    server, key = keyed
    signed = assertion(server, key)
    assert token_with(server, signed).status_code == 200
    replayed = token_with(server, signed)
    assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_client"
    foreign = token_with(server, assertion(server, key, audience="https://attacker.example/token"))
    assert foreign.json()["error"] == "invalid_client"
    other = JsonWebKey.generate_key("RSA", 2048, is_private=True)
    session = OAuth2Session(CLIENT, other.as_pem(is_private=True), token_endpoint_auth_method=PrivateKeyJWT(server.metadata()["token_endpoint"], headers={"kid": "py-1"}))
    with pytest.raises(OAuthError) as forged:
        session.fetch_token(server.metadata()["token_endpoint"], grant_type="client_credentials")
    assert forged.value.error == "invalid_client"
