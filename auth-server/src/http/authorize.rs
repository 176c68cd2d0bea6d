//! The authorization endpoint (RFC 6749 §4.1, OIDC Core §3.1.2): the login form it shows,
//! and the codes it issues within a session (the form's submission is [`super::login`]).
//!
//! A request is validated before anything is shown; errors before the redirect URI is known
//! good stay on this server. The form is bound to its pending request by a CSRF token held in
//! both a cookie and the form.

use axum::body::Bytes;
use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::cookies;
use super::login_page::{self, LoginForm};
use super::par;
use super::{AppState, CurrentTenant};
use crate::issue::{random_token, session_sid};
use crate::oauth::{
    Answer, AuthorizeFailure, AuthorizeRequest, ErrorCode, OAuthError, Params, SessionView, answer,
};
use crate::store::{CodeGrant, MAX_STORED_REQUEST, PendingLogin, Session, StoreUnavailable};
use crate::tenant::Tenant;

/// RFC 6749 §4.1.2 recommends at most ten minutes; one is plenty for a redirect.
const CODE_SECONDS: i64 = 60;
const LOGIN_SECONDS: i64 = 600;
pub(super) const SESSION_SECONDS: i64 = 8 * 3600;

/// GET or POST (OIDC Core §3.1.2.1: both MUST be supported). The query of a GET and the
/// body of a POST use the same form encoding (RFC 6749 §4.1.1, Appendix B).
pub async fn authorize(
    State(app): State<AppState>,
    Extension(CurrentTenant(tenant)): Extension<CurrentTenant>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(params) = Params::from_query_or_form(method == Method::POST, query.as_deref(), &body)
    else {
        return login_page::error(
            StatusCode::BAD_REQUEST,
            "The request parameters are malformed.",
        );
    };
    // A request_uri of ours names a pushed request; any other is a request object by
    // reference, which validation refuses with its own error.
    let handle = params
        .get("request_uri")
        .and_then(|uri| uri.strip_prefix(par::REQUEST_URI_PREFIX));
    let (params, pushed) = match handle {
        Some(handle) => match par::take(&app, &tenant, &params, handle).await {
            Ok(Ok(pushed)) => (pushed, true),
            Ok(Err(why)) => return login_page::error(StatusCode::BAD_REQUEST, why),
            Err(unavailable) => return unavailable_page(unavailable, SIGN_IN_UNAVAILABLE),
        },
        None => (params, false),
    };
    let now = app.clock.now();
    let (request, demands) = match AuthorizeRequest::validate(&tenant, &params, now, pushed) {
        Ok(validated) => validated,
        Err(AuthorizeFailure::Page(why)) => return login_page::error(StatusCode::BAD_REQUEST, why),
        Err(AuthorizeFailure::Redirect {
            redirect_uri,
            state,
            error,
        }) => {
            return error_redirect(&tenant, &redirect_uri, state.as_deref(), error);
        }
    };
    let session = match live_session(&app, &tenant, &headers).await {
        Ok(session) => session,
        Err(unavailable) => return unavailable_page(unavailable, SIGN_IN_UNAVAILABLE),
    };
    let view = session.as_ref().map(|(_, session)| SessionView {
        username: &session.username,
        auth_time: session.auth_time,
    });
    let now = app.clock.now();
    let hinted_user = demands.hinted_user.as_deref();
    let decided = answer(request.prompt, demands.max_age, hinted_user, view, now);
    let reply = match (decided, session) {
        (Answer::Code, Some((id, session))) => {
            let signed_in = SignedIn {
                session_id: &id,
                username: &session.username,
                auth_time: session.auth_time,
            };
            code_redirect(&app, &tenant, request, signed_in).await
        }
        (Answer::Error(error), _) => {
            let (uri, state) = (request.redirect_uri.clone(), request.state.clone());
            Ok(error_redirect(&tenant, &uri, state.as_deref(), error))
        }
        (Answer::SignIn | Answer::Code, _) => show_login(&app, &tenant, request).await,
    };
    reply.unwrap_or_else(|e| unavailable_page(e, SIGN_IN_UNAVAILABLE))
}

/// The session id and signed-in user of this tenant, if the session cookie names a live
/// session.
pub(super) async fn live_session(
    app: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
) -> Result<Option<(String, Session)>, StoreUnavailable> {
    let Some(id) = cookies::read(headers, tenant, cookies::SESSION) else {
        return Ok(None);
    };
    let session = app.store.session(id, app.clock.now()).await?;
    Ok(session
        .filter(|session| session.tenant == tenant.id() && tenant.user(&session.username).is_some())
        .map(|session| (id.to_owned(), session)))
}

pub(super) const SIGN_IN_UNAVAILABLE: &str =
    "Sign-in is temporarily unavailable. Please try again in a moment.";

/// Grants need the store; while it is down the user is told to come back (`message`), and
/// nothing is lost.
pub(super) fn unavailable_page(error: StoreUnavailable, message: &str) -> Response {
    tracing::debug!(%error, "request needs the grant store");
    let mut response = login_page::error(StatusCode::SERVICE_UNAVAILABLE, message);
    response
        .extensions_mut()
        .insert(ErrorCode(OAuthError::TemporarilyUnavailable.code()));
    response
}

async fn show_login(
    app: &AppState,
    tenant: &Tenant,
    request: AuthorizeRequest,
) -> Result<Response, StoreUnavailable> {
    let (login_id, csrf) = (random_token(), random_token());
    let pending = PendingLogin {
        tenant: tenant.id().to_owned(),
        csrf: csrf.clone(),
        request,
        expires_at: app.clock.now() + LOGIN_SECONDS,
    };
    if let Some(why) = oversized(&pending.request) {
        return Ok(login_page::error(StatusCode::BAD_REQUEST, why));
    }
    app.store.save_login(&login_id, &pending).await?;
    let prefill = pending.request.login_hint.as_deref().unwrap_or_default();
    let form = login_form(tenant, &pending, &login_id, prefill, None);
    let mut response = login_page::login(&form, StatusCode::OK);
    cookies::set(&mut response, tenant, cookies::CSRF, &csrf, LOGIN_SECONDS);
    Ok(response)
}

/// Longest `state` or `nonce` accepted: both are echoed back, and kept while the user signs
/// in, so an unbounded one is memory anyone can make the server hold.
const MAX_ECHOED: usize = 1024;

/// Why a request is too large to keep while its user signs in, if it is.
fn oversized(request: &AuthorizeRequest) -> Option<&'static str> {
    let echoed = [&request.state, &request.nonce, &request.login_hint];
    if echoed
        .iter()
        .any(|v| v.as_ref().is_some_and(|v| v.len() > MAX_ECHOED))
    {
        return Some("The state, nonce or login_hint parameter is longer than 1024 bytes.");
    }
    let stored = serde_json::to_vec(request).map_or(usize::MAX, |json| json.len());
    (stored > MAX_STORED_REQUEST).then_some("The authorization request is too large.")
}

pub(super) fn login_form<'a>(
    tenant: &'a Tenant,
    pending: &'a PendingLogin,
    login_id: &'a str,
    username: &'a str,
    error: Option<&'a str>,
) -> LoginForm<'a> {
    let client = tenant.client(&pending.request.client_id);
    let client_name = client
        .map(|c| c.config.display_name.as_str())
        .filter(|name| !name.is_empty())
        .unwrap_or(&pending.request.client_id);
    LoginForm {
        tenant_name: &tenant.config.display_name,
        client_name,
        // Relative to `<issuer>/authorize`, so it works behind any host or port.
        action: "login",
        login_id,
        csrf: &pending.csrf,
        username,
        error,
    }
}

/// The session a code is issued in.
#[derive(Clone, Copy)]
pub(super) struct SignedIn<'a> {
    pub(super) session_id: &'a str,
    pub(super) username: &'a str,
    pub(super) auth_time: i64,
}

/// Issues a code within the session, which remembers the client so that its end can be told
/// to it (Back-Channel Logout §2.7).
pub(super) async fn code_redirect(
    app: &AppState,
    tenant: &Tenant,
    request: AuthorizeRequest,
    signed_in: SignedIn<'_>,
) -> Result<Response, StoreUnavailable> {
    let code = random_token();
    let (redirect_uri, state) = (request.redirect_uri.clone(), request.state.clone());
    app.store
        .add_session_client(signed_in.session_id, &request.client_id)
        .await?;
    let grant = CodeGrant {
        tenant: tenant.id().to_owned(),
        request,
        username: signed_in.username.to_owned(),
        auth_time: signed_in.auth_time,
        expires_at: app.clock.now() + CODE_SECONDS,
        sid: Some(session_sid(signed_in.session_id)),
    };
    app.store.save_code(&code, &grant).await?;
    Ok(redirect(
        tenant,
        &redirect_uri,
        &[("code", &code)],
        state.as_deref(),
    ))
}

fn error_redirect(
    tenant: &Tenant,
    redirect_uri: &str,
    state: Option<&str>,
    error: OAuthError,
) -> Response {
    let mut pairs = vec![("error", error.code())];
    if let Some(description) = error.description() {
        pairs.push(("error_description", description));
    }
    let mut response = redirect(tenant, redirect_uri, &pairs, state);
    response.extensions_mut().insert(ErrorCode(error.code()));
    response
}

/// Redirects to the client with `state` echoed and `iss` set (RFC 9207 §2).
fn redirect(
    tenant: &Tenant,
    redirect_uri: &str,
    pairs: &[(&str, &str)],
    state: Option<&str>,
) -> Response {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return login_page::error(StatusCode::BAD_REQUEST, "The redirect URI is not a URL.");
    };
    {
        let mut query = url.query_pairs_mut();
        query.extend_pairs(pairs);
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", tenant.issuer());
    }
    let mut response = Redirect::to(url.as_str()).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
