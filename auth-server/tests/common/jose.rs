//! A client's own key for the tests: an ES256 pair made with ring, its public JWK, and JWS
//! signed with it under any header, for DPoP proofs and client assertions (and forged ones).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

pub struct TestKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
}

impl TestKey {
    pub fn generate() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        Self { pair, rng }
    }

    /// The public JWK (EC P-256).
    pub fn jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..]),
        })
    }

    /// RFC 7638 thumbprint of [`TestKey::jwk`].
    pub fn thumbprint(&self) -> String {
        let jwk = self.jwk();
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().unwrap(),
            jwk["y"].as_str().unwrap()
        );
        URL_SAFE_NO_PAD.encode(ring::digest::digest(
            &ring::digest::SHA256,
            canonical.as_bytes(),
        ))
    }

    /// A compact JWS of `claims` under `header`, signed with this key whatever `alg` says.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
        let input = format!("{}.{}", part(header), part(claims));
        let signature = self.pair.sign(&self.rng, input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }

    /// A DPoP proof (RFC 9449 §4.2) for `htm` `htu` at `iat`, with extra claims merged in.
    pub fn proof(&self, htm: &str, htu: &str, iat: i64, extra: Value) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk()});
        let mut claims = json!({
            "jti": URL_SAFE_NO_PAD.encode(ring::rand::generate::<[u8; 16]>(&self.rng).unwrap().expose()),
            "htm": htm,
            "htu": htu,
            "iat": iat,
        });
        if let (Some(claims), Some(extra)) = (claims.as_object_mut(), extra.as_object()) {
            claims.extend(extra.clone());
        }
        self.sign(&header, &claims)
    }
}

/// `ath` of an access token (RFC 9449 §4.2).
pub fn ath(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        token.as_bytes(),
    ))
}

/// The claims of a JWT, unverified (the test trusts the server it started).
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

impl TestKey {
    /// A `private_key_jwt` assertion (RFC 7523) by `client` for `aud`, good for a minute.
    pub fn assertion(&self, kid: &str, client: &str, aud: &str, now: i64) -> String {
        let jti = URL_SAFE_NO_PAD.encode(
            ring::rand::generate::<[u8; 16]>(&self.rng)
                .unwrap()
                .expose(),
        );
        let claims = json!({"iss": client, "sub": client, "aud": aud, "exp": now + 60, "iat": now, "jti": jti});
        self.sign(&json!({"alg": "ES256", "kid": kid}), &claims)
    }

    /// [`TestKey::jwk`] with a `kid`, as a client registers it.
    pub fn jwks(&self, kid: &str) -> meridian_contract::ClientJwks {
        let mut jwk = self.jwk();
        jwk["kid"] = json!(kid);
        serde_json::from_value(json!({ "keys": [jwk] })).unwrap()
    }
}
