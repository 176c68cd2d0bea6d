//! `Tenant`: an organisation that gets tokens, served from one or more regions.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::client::ClientSpec;
use super::policy::{SigningSpec, TokensSpec};
use super::secret_ref::SecretKeyRef;

/// A Tenant is an organisation that gets tokens: its issuer, the regions it is served from,
/// its OAuth clients, users, scopes, token lifetimes and signing policy. The operator renders it
/// into every listed region; its signing keys are generated once in the hub and replicated, so
/// a token issued in any region verifies in every other.
#[derive(CustomResource, KubeSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "meridian.dev",
    version = "v1alpha1",
    kind = "Tenant",
    shortname = "tn",
    status = "TenantStatus",
    cel,
    validation = Rule::new(super::rules::is_dns_label("self.metadata.name"))
        .message(super::rules::NAME_MESSAGE),
    printcolumn(name = "Served", type_ = "string", json_path = ".status.served"),
    printcolumn(name = "Home", type_ = "string", json_path = ".spec.homeRegion"),
    printcolumn(name = "Isolation", type_ = "string", json_path = ".spec.isolation"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.regions.exists(r, r == self.homeRegion)")
        .message("spec.homeRegion must be one of spec.regions")
        .field_path(".homeRegion"),
    validation = Rule::new(
        "!has(self.clients) || self.clients.all(c, !has(c.scopes) || c.scopes.all(s, \
         s in ['openid', 'profile', 'email', 'offline_access'] || \
         (has(self.scopes) && self.scopes.exists(t, t.name == s))))"
    )
        .message("spec.clients[].scopes: every scope must be declared in spec.scopes or be one of openid, profile, email, offline_access")
        .field_path(".clients"),
    validation = Rule::new(
        "!has(self.fapi2) || !self.fapi2 || !has(self.clients) || self.clients.all(c, c.type == 'public' || \
         (has(c.tokenEndpointAuthMethod) && c.tokenEndpointAuthMethod == 'private_key_jwt'))"
    )
        .message("spec.clients[]: with fapi2, every confidential client must use tokenEndpointAuthMethod private_key_jwt")
        .field_path(".clients")
)]
pub struct TenantSpec {
    /// Human-readable name, shown on the login page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub display_name: Option<String>,

    /// Issuer identifier (the `iss` claim), identical in every region: an https URL without query
    /// or fragment (http only for localhost, 127.0.0.1 and [::1]), not ending in '/'. When absent
    /// the operator derives it from its issuer base URL plus `/t/<tenant name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512))]
    #[x_kube(
        validation = Rule::new(super::rules::is_https_or_loopback_url("self"))
            .message("spec.issuer must be an https URL (http only for localhost, 127.0.0.1 or [::1])"),
        validation = Rule::new(super::rules::NO_QUERY_OR_FRAGMENT)
            .message("spec.issuer must not contain a query or a fragment"),
        validation = Rule::new("!self.endsWith('/')").message("spec.issuer must not end with '/'")
    )]
    pub issuer: Option<String>,

    /// Names of the AuthRegions this tenant is served from; at least one, no repeats.
    #[schemars(
        length(min = 1, max = 32),
        inner(length(max = 63)),
        extend("x-kubernetes-list-type" = "set")
    )]
    #[x_kube(validation = Rule::new(format!("self.all(r, {})", super::rules::is_dns_label("r")))
        .message("spec.regions must hold AuthRegion names (DNS labels)"))]
    pub regions: Vec<String>,

    /// The region where the tenant's data lives by default: the `region` claim of subjects that
    /// have no home region of their own. Must be one of `regions`.
    #[schemars(length(max = 63))]
    pub home_region: String,

    /// Shared: served by the region's shared auth-server. Dedicated: an auth-server Deployment
    /// of its own in every region, holding only this tenant.
    #[serde(default)]
    pub isolation: Isolation,

    /// Jurisdictions (AuthRegion `spec.jurisdiction`) where this tenant may be placed. A listed
    /// region outside them is skipped, with a condition naming it, and the tenant's users are
    /// never written there. Absent: no restriction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32), inner(length(max = 32)))]
    pub data_residency: Option<Vec<String>>,

    /// Scopes clients may request, beyond the OpenID Connect ones (openid, profile, email,
    /// offline_access), which are always available.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 64),
        extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"])
    )]
    pub scopes: Vec<ScopeSpec>,

    /// OAuth 2.0 clients of this tenant (at most 50), one per `clientId`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 50),
        extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["clientId"])
    )]
    pub clients: Vec<ClientSpec>,

    /// Where the tenant's users come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<UsersSpec>,

    /// Token lifetimes.
    #[serde(default)]
    pub tokens: TokensSpec,

    /// Signing algorithm and key rotation policy.
    #[serde(default)]
    pub signing: SigningSpec,

    /// Static string claims added to every access and ID token. Registered and Meridian claims
    /// (iss, sub, aud, exp, iat, nbf, jti, client_id, scope, tenant_id, region, nonce, auth_time,
    /// at_hash, azp, typ, sid) cannot be set here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 32))]
    #[x_kube(validation = Rule::new(super::rules::no_reserved_claim_keys())
        .message(kube::core::Message::Message(super::rules::reserved_claims_message())))]
    pub claims: BTreeMap<String, String>,

    /// The FAPI 2.0 Security Profile for every client of this tenant: authorization requests
    /// must be pushed (PAR) with PKCE S256, every token request carries a DPoP proof (so every
    /// access token and a public client's refresh tokens are bound to the client's key), and
    /// confidential clients authenticate with `private_key_jwt` only. Authorization responses
    /// carry `iss` (RFC 9207) either way. Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fapi2: bool,
}

/// How a tenant shares auth-server processes with other tenants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Isolation {
    // Served by the region's shared auth-server.
    #[default]
    Shared,
    // Served by an auth-server of its own in every region.
    Dedicated,
}

/// A scope clients may request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScopeSpec {
    /// Scope name as it appears in the `scope` parameter and claim (RFC 6749 §3.3 scope-token:
    /// printable ASCII without space, '"' or '\').
    #[schemars(length(min = 1, max = 64))]
    #[x_kube(validation = Rule::new("self.matches('^[!#-\\\\[\\\\]-~]+$')")
        .message("spec.scopes[].name must be a scope token: printable ASCII without space, '\"' or '\\\\'"))]
    pub name: String,
    /// What the scope grants, for people reading the consent or the configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub description: Option<String>,
}

/// Where a tenant's users come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsersSpec {
    /// Secret holding the user directory as JSON (`{"users": [{"username", "passwordHash"
    /// (argon2id), "claims", "homeRegion"}]}`); key defaults to `users.json`.
    pub secret_ref: SecretKeyRef,
}

/// What the operator observed of a Tenant. Never holds key material or secrets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, KeysReady, Replicated and Degraded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The issuer in effect, as given or as derived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Per region: whether it holds the current configuration, whether it serves it, and which
    /// keys it publishes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<TenantRegionStatus>,
    /// Which key signs now and which is next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing: Option<SigningStatus>,
    /// `<serving>/<listed>`: how many of `spec.regions` serve the Tenant's current
    /// configuration, e.g. `2/2` (the `SERVED` column of `kubectl get tenants`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served: Option<String>,
}

/// A Tenant's state in one region.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantRegionStatus {
    /// The AuthRegion's name.
    pub name: String,
    /// The region holds the configuration and keys of the Tenant's current generation.
    pub synced: bool,
    /// Key ids the region's JWKS was seen publishing, fetched from its public URL.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub published_kids: Vec<String>,
    /// Why the region is not synced, in one CamelCase word (`Pending`, `Unreachable`,
    /// `ReservedClaim`, `SecretMissing`, ...), when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Why the region is not synced, when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The revision of the Tenant's files the operator wrote in the region (a digest of their
    /// bytes, which changes with any edit, key rotation or referenced Secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The revision the region's auth-server serves, read from its public URL (the
    /// `meridian-revision` header of the Tenant's JWKS); absent when it could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_revision: Option<String>,
    /// Since when the region has not served `revision`; absent while it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_served_since: Option<Time>,
    /// The region has gone without serving `revision` for longer than the operator allows
    /// (`--served-within`): the Tenant is Degraded with reason NotServed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub overdue: bool,
}

/// The signing schedule in effect (key ids and times only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SigningStatus {
    /// The key that signs now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_kid: Option<String>,
    /// The staged key that signs next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_kid: Option<String>,
    /// When the staged key starts signing (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_activation_at: Option<String>,
}
