//! The end-session endpoint (OIDC RP-Initiated Logout 1.0) and what a logout sets off: the
//! session ends in the store, its cookie is cleared, and each relying party the session signed
//! in to is told over the back channel (in the background, see [`crate::backchannel`]).
//!
//! A request with a valid `id_token_hint` for the signed-in user ends the session at once;
//! any other asks the user first, with a form bound to a CSRF cookie, so a third-party page
//! cannot sign a user out. Errors are shown, never redirected.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Redirect, Response};
use subtle::ConstantTimeEq;

use super::authorize::{live_session, unavailable_page};
use super::login_page::{self, LogoutForm};
use super::{AppState, CurrentTenant, cookies};
use crate::issue::{random_token, session_sid};
use crate::oauth::{LogoutRequest, Params};
use crate::store::StoreUnavailable;
use crate::tenant::Tenant;

const SIGN_OUT_UNAVAILABLE: &str =
    "Sign-out is temporarily unavailable. Please try again in a moment.";

/// How long the confirmation form may wait.
const CONFIRM_SECONDS: i64 = 600;

/// GET or POST (§2: both MUST be supported), query and form in the same encoding.
pub async fn end_session(
    State(app): State<AppState>,
    Extension(CurrentTenant(tenant)): Extension<CurrentTenant>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(params) = Params::from_query_or_form(method == Method::POST, query.as_deref(), &body)
    else {
        return login_page::logout_error("The request parameters are malformed.");
    };
    let request = match LogoutRequest::validate(&tenant, &params, app.clock.now()) {
        Ok(request) => request,
        Err(why) => return login_page::logout_error(why),
    };
    let confirmed =
        params.get("confirm") == Some("yes") && csrf_matches(&tenant, &params, &headers);
    match decide(&app, &tenant, &request, &headers, confirmed).await {
        Ok(Decision::Ask) => ask(&tenant, &request),
        Ok(Decision::End(session_id)) => {
            if let Some(id) = &session_id
                && let Err(unavailable) = end(&app, &tenant, id).await
            {
                return unavailable_page(unavailable, SIGN_OUT_UNAVAILABLE);
            }
            finish(&tenant, &request)
        }
        Err(unavailable) => unavailable_page(unavailable, SIGN_OUT_UNAVAILABLE),
    }
}

enum Decision {
    /// Ask the user first.
    Ask,
    /// Go ahead, ending this session if there is one.
    End(Option<String>),
}

async fn decide(
    app: &AppState,
    tenant: &Tenant,
    request: &LogoutRequest,
    headers: &HeaderMap,
    confirmed: bool,
) -> Result<Decision, StoreUnavailable> {
    let Some((id, session)) = live_session(app, tenant, headers).await? else {
        // Nobody is signed in here: there is nothing to end, and nothing to ask.
        return Ok(Decision::End(None));
    };
    let hinted_for_this_user = request.hinted_user.as_deref() == Some(session.username.as_str());
    Ok(if confirmed || hinted_for_this_user {
        Decision::End(Some(id))
    } else {
        Decision::Ask
    })
}

/// The confirmation form's CSRF token matches the cookie set with it.
fn csrf_matches(tenant: &Tenant, params: &Params, headers: &HeaderMap) -> bool {
    let form = params.get("csrf").unwrap_or_default();
    let cookie = cookies::read(headers, tenant, cookies::LOGOUT_CSRF).unwrap_or_default();
    !form.is_empty() && bool::from(form.as_bytes().ct_eq(cookie.as_bytes()))
}

fn ask(tenant: &Tenant, request: &LogoutRequest) -> Response {
    let csrf = random_token();
    let form = LogoutForm {
        tenant_name: &tenant.config.display_name,
        csrf: &csrf,
        client_id: request.client_id.as_deref(),
        post_logout_redirect_uri: request.post_logout_redirect_uri.as_deref(),
        state: request.state.as_deref(),
    };
    let mut response = login_page::confirm_logout(&form);
    cookies::set(
        &mut response,
        tenant,
        cookies::LOGOUT_CSRF,
        &csrf,
        CONFIRM_SECONDS,
    );
    response
}

/// Ends the session once (of two racing logouts only one tells the relying parties).
async fn end(app: &AppState, tenant: &Arc<Tenant>, id: &str) -> Result<(), StoreUnavailable> {
    let now = app.clock.now();
    if let Some(session) = app.store.end_session(id, now).await?
        && session.tenant == tenant.id()
    {
        tracing::info!(tenant = tenant.id(), "session ended by logout");
        app.backchannel
            .session_ended(tenant, &session, &session_sid(id), now);
    }
    Ok(())
}

/// Back to the client's registered URI with `state` (§3), or a page saying it is done; the
/// session and confirmation cookies are cleared either way.
fn finish(tenant: &Tenant, request: &LogoutRequest) -> Response {
    let mut response = match &request.post_logout_redirect_uri {
        Some(uri) => match url::Url::parse(uri) {
            Ok(mut url) => {
                if let Some(state) = &request.state {
                    url.query_pairs_mut().append_pair("state", state);
                }
                let mut response = Redirect::to(url.as_str()).into_response();
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                response
            }
            Err(_) => login_page::logout_error("The post_logout_redirect_uri is not a URL."),
        },
        None => login_page::signed_out(&tenant.config.display_name),
    };
    cookies::set(&mut response, tenant, cookies::SESSION, "", 0);
    cookies::set(&mut response, tenant, cookies::LOGOUT_CSRF, "", 0);
    response
}
