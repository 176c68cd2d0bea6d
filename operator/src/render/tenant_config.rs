//! A Tenant's spec as the contract's [`TenantConfig`].

use meridian_contract::{self as contract, TenantConfig, TokenLifetimes};

use crate::api::{ClientAuthMethod, ClientJwkSpec, ClientSpec, ClientType, GrantType, TenantSpec};
use crate::duration::{self, InvalidDuration};
use crate::settings::Settings;

use super::RenderError;

/// The issuer in effect: `spec.issuer`, or the operator's base URL plus `/t/<name>`.
pub fn issuer(name: &str, spec: &TenantSpec, settings: &Settings) -> String {
    match &spec.issuer {
        Some(issuer) => issuer.clone(),
        None => format!(
            "{}/t/{name}",
            settings.issuer_base_url.trim_end_matches('/')
        ),
    }
}

/// The public configuration of tenant `name`, as every region's auth-server reads it.
pub fn tenant_config(
    name: &str,
    spec: &TenantSpec,
    settings: &Settings,
) -> Result<TenantConfig, RenderError> {
    Ok(TenantConfig {
        id: name.to_owned(),
        display_name: spec.display_name.clone().unwrap_or_else(|| name.to_owned()),
        issuer: issuer(name, spec, settings),
        home_region: spec.home_region.clone(),
        scopes: spec
            .scopes
            .iter()
            .map(|scope| contract::Scope {
                name: scope.name.clone(),
                description: scope.description.clone().unwrap_or_default(),
            })
            .collect(),
        clients: spec.clients.iter().map(client_config).collect(),
        tokens: token_lifetimes(spec)?,
        claims: spec.claims.clone(),
        fapi2: spec.fapi2,
    })
}

/// The token lifetimes of `spec`, in seconds: what the auth-server issues, and how long the
/// rotation keeps a retired key published.
pub fn token_lifetimes(spec: &TenantSpec) -> Result<TokenLifetimes, InvalidDuration> {
    let seconds = |field, value: &str| duration::parse(field, value).map(|d| d.as_secs());
    Ok(TokenLifetimes {
        access_token_seconds: seconds("spec.tokens.accessTokenTtl", &spec.tokens.access_token_ttl)?,
        id_token_seconds: seconds("spec.tokens.idTokenTtl", &spec.tokens.id_token_ttl)?,
        refresh_token_seconds: seconds(
            "spec.tokens.refreshTokenTtl",
            &spec.tokens.refresh_token_ttl,
        )?,
    })
}

fn client_config(client: &ClientSpec) -> contract::ClientConfig {
    contract::ClientConfig {
        client_id: client.client_id.clone(),
        display_name: client
            .display_name
            .clone()
            .unwrap_or_else(|| client.client_id.clone()),
        kind: match client.client_type {
            ClientType::Confidential => contract::ClientKind::Confidential,
            ClientType::Public => contract::ClientKind::Public,
        },
        grant_types: client
            .grant_types
            .iter()
            .map(|grant| match grant {
                GrantType::ClientCredentials => contract::GrantType::ClientCredentials,
                GrantType::AuthorizationCode => contract::GrantType::AuthorizationCode,
                GrantType::RefreshToken => contract::GrantType::RefreshToken,
                GrantType::TokenExchange => contract::GrantType::TokenExchange,
            })
            .collect(),
        redirect_uris: client.redirect_uris.clone(),
        scopes: client.scopes.clone(),
        audience: client.audience.clone(),
        resources: client.resources.clone(),
        allowed_origins: client.allowed_origins.clone(),
        post_logout_redirect_uris: client.post_logout_redirect_uris.clone(),
        backchannel_logout_uri: client.backchannel_logout_uri.clone(),
        require_pushed_authorization_requests: client.require_pushed_authorization_requests,
        dpop_bound_access_tokens: client.dpop_bound_access_tokens,
        require_dpop_nonce: client.require_dpop_nonce,
        token_endpoint_auth_method: client
            .token_endpoint_auth_method
            .map(|method| match method {
                ClientAuthMethod::ClientSecretBasic => {
                    contract::ClientAuthMethod::ClientSecretBasic
                }
                ClientAuthMethod::ClientSecretPost => contract::ClientAuthMethod::ClientSecretPost,
                ClientAuthMethod::PrivateKeyJwt => contract::ClientAuthMethod::PrivateKeyJwt,
                ClientAuthMethod::None => contract::ClientAuthMethod::None,
            }),
        jwks: client.jwks.as_ref().map(|jwks| contract::ClientJwks {
            keys: jwks.keys.iter().map(client_jwk).collect(),
        }),
        jwks_uri: client.jwks_uri.clone(),
        token_exchange: client.token_exchange.as_ref().map(|policy| {
            contract::TokenExchangePolicy {
                audiences: policy.audiences.clone(),
                scopes: policy.scopes.clone(),
            }
        }),
    }
}

fn client_jwk(jwk: &ClientJwkSpec) -> contract::ClientJwk {
    contract::ClientJwk {
        kty: jwk.kty.clone(),
        kid: jwk.kid.clone(),
        alg: jwk.alg.clone(),
        usage: jwk.usage.clone(),
        crv: jwk.crv.clone(),
        x: jwk.x.clone(),
        y: jwk.y.clone(),
        n: jwk.n.clone(),
        e: jwk.e.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> TenantSpec {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn the_fapi2_profile_is_rendered() {
        let spec = spec("{regions: [eu], homeRegion: eu, fapi2: true}");
        assert!(
            tenant_config("acme", &spec, &Settings::default())
                .unwrap()
                .fapi2
        );
        let spec = self::spec("{regions: [eu], homeRegion: eu}");
        assert!(
            !tenant_config("acme", &spec, &Settings::default())
                .unwrap()
                .fapi2
        );
    }

    #[test]
    fn issuer_is_derived_from_the_base_url_when_absent() {
        let settings = Settings {
            issuer_base_url: "https://auth.example.com/".into(),
            ..Settings::default()
        };
        assert_eq!(
            issuer("acme", &spec("{regions: [eu], homeRegion: eu}"), &settings),
            "https://auth.example.com/t/acme"
        );
        let explicit = spec("{regions: [eu], homeRegion: eu, issuer: 'https://id.acme.example'}");
        assert_eq!(
            issuer("acme", &explicit, &settings),
            "https://id.acme.example"
        );
    }

    #[test]
    fn renders_clients_lifetimes_and_defaults() {
        let spec = spec(
            r#"
            regions: [eu]
            homeRegion: eu
            tokens: {accessTokenTtl: 10m}
            clients:
              - {clientId: web, type: public, grantTypes: [authorization_code], redirectUris: ["https://a/cb"], allowedOrigins: ["https://spa.a"],
                 postLogoutRedirectUris: ["https://a/bye"], backchannelLogoutUri: "https://a/bc",
                 resources: ["https://api.a"], requirePushedAuthorizationRequests: true,
                 dpopBoundAccessTokens: true, requireDpopNonce: true}
              - {clientId: svc, type: confidential, grantTypes: [client_credentials], tokenEndpointAuthMethod: private_key_jwt,
                 jwks: {keys: [{kty: OKP, crv: Ed25519, x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", kid: k1}]}}
              - {clientId: gw, type: confidential, grantTypes: [token_exchange], secretRef: {name: gw},
                 tokenExchange: {audiences: ["https://orders.example"], scopes: [api]}}
            "#,
        );
        let config = tenant_config("acme", &spec, &Settings::default()).unwrap();
        assert_eq!(config.display_name, "acme");
        assert_eq!(config.tokens.access_token_seconds, 600);
        assert_eq!(config.tokens.id_token_seconds, 3600);
        assert_eq!(config.clients[0].kind, contract::ClientKind::Public);
        assert_eq!(
            config.clients[0].grant_types,
            [contract::GrantType::AuthorizationCode]
        );
        assert_eq!(
            config.clients[0].allowed_origins,
            Some(vec!["https://spa.a".to_owned()])
        );
        assert_eq!(
            config.clients[0].post_logout_redirect_uris,
            ["https://a/bye"]
        );
        assert_eq!(
            config.clients[0].backchannel_logout_uri.as_deref(),
            Some("https://a/bc")
        );
        assert!(config.clients[0].dpop_bound_access_tokens && config.clients[0].require_dpop_nonce);
        let keyed = &config.clients[1];
        assert!(keyed.uses_private_key_jwt());
        let jwk = &keyed.jwks.as_ref().unwrap().keys[0];
        assert_eq!((jwk.kty.as_str(), jwk.kid.as_deref()), ("OKP", Some("k1")));
        let gateway = &config.clients[2];
        assert_eq!(gateway.grant_types, [contract::GrantType::TokenExchange]);
        let policy = gateway.token_exchange.as_ref().unwrap();
        assert_eq!(policy.audiences, ["https://orders.example"]);
    }

    #[test]
    fn a_broken_duration_names_its_field() {
        let spec = spec("{regions: [eu], homeRegion: eu, tokens: {accessTokenTtl: soon}}");
        let err = tenant_config("acme", &spec, &Settings::default()).unwrap_err();
        assert!(
            err.to_string().contains("spec.tokens.accessTokenTtl"),
            "{err}"
        );
    }
}
