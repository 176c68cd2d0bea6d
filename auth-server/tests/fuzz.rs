//! Property tests over what an anonymous caller controls: form and query bodies, and tokens.
//! The parsers and the verifier must never panic, whatever the input, and the verifier must
//! accept nothing but the genuine token: no truncation, no flipped byte, no re-encoded header.
//! Case counts are bounded so the suite stays fast.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use meridian_auth_server::keys::Signer;
use meridian_auth_server::oauth::Params;
use meridian_auth_server::oauth::jwt::{self, TokenType};
use meridian_contract::Algorithm;
use meridian_keys::generate_key;
use proptest::prelude::*;
use serde_json::{Value, json};

fn signer() -> Signer {
    Signer::from_contract(&generate_key(Algorithm::ES256, 1, 0)).unwrap()
}

fn genuine(signer: &Signer) -> String {
    let claims =
        json!({"iss": "https://auth.example/t/acme", "sub": "alice", "exp": 4_000_000_000i64});
    jwt::encode(signer, TokenType::Access, &claims)
}

fn verifies(signer: &Signer, token: &str) -> bool {
    let kid = signer.kid().to_owned();
    jwt::verify::<Value>(token, TokenType::Access, |presented| {
        (presented == kid).then_some(signer)
    })
    .is_ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_form_body_parses_or_is_refused_without_panicking(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Params::from_form(&body);
    }

    #[test]
    fn form_bodies_of_oauth_shape_keep_every_single_value(
        pairs in proptest::collection::btree_map("[a-z_]{1,12}", "[ -~]{1,24}", 0..8)
    ) {
        let body = serde_urlencoded::to_string(&pairs).unwrap();
        let params = Params::from_form(body.as_bytes()).unwrap();
        for (name, value) in &pairs {
            prop_assert_eq!(params.get(name), Some(value.as_str()));
        }
    }

    #[test]
    fn any_string_is_refused_as_a_token(token in "[A-Za-z0-9_.=-]{0,400}") {
        let signer = signer();
        prop_assert!(!verifies(&signer, &token));
    }

    #[test]
    fn a_genuine_token_with_any_byte_changed_is_refused(index in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let signer = signer();
        let token = genuine(&signer);
        prop_assert!(verifies(&signer, &token));
        let mut bytes = token.clone().into_bytes();
        let at = index.index(bytes.len());
        prop_assume!(bytes[at] != byte);
        bytes[at] = byte;
        let tampered = String::from_utf8_lossy(&bytes).into_owned();
        // A change in base64 padding bits can decode to the same bytes; anything else must fail.
        let same_meaning = tampered.split('.').map(|p| URL_SAFE_NO_PAD.decode(p).ok()).collect::<Vec<_>>()
            == token.split('.').map(|p| URL_SAFE_NO_PAD.decode(p).ok()).collect::<Vec<_>>();
        prop_assert!(same_meaning || !verifies(&signer, &tampered), "{tampered}");
    }

    #[test]
    fn a_genuine_token_cut_anywhere_is_refused(cut in any::<prop::sample::Index>()) {
        let signer = signer();
        let token = genuine(&signer);
        let at = cut.index(token.len());
        prop_assert!(!verifies(&signer, &token[..at]));
    }
}
