//! HAProxy configurations in front of Meridian, rendered by pure functions from what the hub
//! declares, so a platform team runs a proxy it already knows and Meridian ships only glue.
//!
//! - [`frontdoor`]: the issuer's global host. Each tenant's paths go to one region at a time —
//!   its home region while healthy, then the others in a fixed order (never round-robin: codes,
//!   SSO sessions and refresh tokens live in one region's store) — checked by the tenant's own
//!   discovery document; regions its data may not live in are never in its list.
//! - [`gateway`]: the API side. Access tokens are verified by HAProxy's `jwt_verify` against
//!   the issuers' keys ([`jwk`] turns a JWKS into the PEM files it loads), another tenant's
//!   token is refused with 403, a missing or invalid one with 401 and `WWW-Authenticate`, scopes
//!   are checked per route, and each request goes to the instance of the token's `region`.
//!
//! Nothing here opens a socket or reads a clock: the caller fetches JWKS, writes files and
//! reloads HAProxy. Inputs are validated before they are written into a config, so a name or
//! path can never inject a directive.

pub mod frontdoor;
pub mod gateway;
mod haproxy;
pub mod jwk;

pub use frontdoor::{FrontDoor, FrontDoorRegion, FrontDoorTenant, HealthCheck};
pub use gateway::{ApiInstance, ApiRoute, Gateway, GatewayTenant, TenantKey};
pub use haproxy::RoutingError;
