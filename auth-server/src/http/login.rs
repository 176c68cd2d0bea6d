//! The login form's submission: the CSRF check that binds it to its pending authorization
//! request, the throttled password check within the pool, and the session it starts.
//!
//! Passwords are checked off the async workers, counted before they are checked, and never
//! logged.

use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use subtle::ConstantTimeEq;

use super::authorize::{
    SESSION_SECONDS, SIGN_IN_UNAVAILABLE, SignedIn, code_redirect, login_form, unavailable_page,
};
use super::{AppState, ClientIp, CurrentTenant, cookies, login_page};
use crate::issue::random_token;
use crate::oauth::{ErrorCode, OAuthError, Params};
use crate::password::Overloaded;
use crate::store::{PendingLogin, Session, StoreUnavailable};
use crate::tenant::Tenant;
use crate::throttle::Attempt;

pub async fn login(
    State(app): State<AppState>,
    Extension(CurrentTenant(tenant)): Extension<CurrentTenant>,
    Extension(ClientIp(peer)): Extension<ClientIp>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = app.clock.now();
    let Ok(params) = Params::from_form(&body) else {
        return login_page::error(StatusCode::BAD_REQUEST, "The form is malformed.");
    };
    let login_id = params.get("login_id").unwrap_or_default();
    let pending = match verified_form(&app, &tenant, &params, &headers).await {
        Ok(Ok(pending)) => pending,
        Ok(Err((status, message))) => return login_page::error(status, message),
        Err(unavailable) => return unavailable_page(unavailable, SIGN_IN_UNAVAILABLE),
    };
    let username = params.get("username").unwrap_or_default().to_owned();
    let password = params.get("password").unwrap_or_default().to_owned();
    let retry = |message, status| {
        let form = login_form(&tenant, &pending, login_id, &username, Some(message));
        login_page::login(&form, status)
    };
    // Longer names cannot sign in (README): counting them would make the throttle hold them.
    if username.len() > MAX_USERNAME {
        return retry("Wrong username or password.", StatusCode::UNAUTHORIZED);
    }
    let attempt = Attempt {
        tenant: tenant.id(),
        username: &username,
        ip: app.trusted_proxies.client(peer, &headers),
    };
    match check_password(&app, &tenant, attempt, password, now).await {
        Ok(Checked::Right) => {}
        Ok(Checked::Wrong) => {
            tracing::info!(tenant = tenant.id(), client_id = %pending.request.client_id, "login failed");
            return retry("Wrong username or password.", StatusCode::UNAUTHORIZED);
        }
        Ok(Checked::Throttled) => {
            let message = "Too many failed attempts. Try again later.";
            return retry(message, StatusCode::TOO_MANY_REQUESTS);
        }
        Ok(Checked::Busy) => return busy_page(),
        Err(unavailable) => return unavailable_page(unavailable, SIGN_IN_UNAVAILABLE),
    }
    let store = app.store.as_ref();
    let signed_in = async {
        app.throttle.succeeded(store, attempt).await?;
        app.store.remove_login(login_id).await?;
        signed_in(&app, &tenant, pending, &username).await
    };
    signed_in
        .await
        .unwrap_or_else(|e| unavailable_page(e, SIGN_IN_UNAVAILABLE))
}

const MAX_USERNAME: usize = 256;

enum Checked {
    Right,
    Wrong,
    Throttled,
    /// Not checked: every password check of the tenant's share is in use.
    Busy,
}

/// Counts the attempt, then checks the password within the pool. Counted before the check,
/// so parallel guesses cannot all pass (see [`crate::throttle`]).
async fn check_password(
    app: &AppState,
    tenant: &Tenant,
    attempt: Attempt<'_>,
    password: String,
    now: i64,
) -> Result<Checked, StoreUnavailable> {
    let store = app.store.as_ref();
    if !app.throttle.reserve(store, attempt, now).await? {
        return Ok(Checked::Throttled);
    }
    let hash = tenant
        .user(attempt.username)
        .map(|user| user.password_hash.clone());
    match app.passwords.verify(tenant.id(), hash, password).await {
        Ok(true) => Ok(Checked::Right),
        Ok(false) => Ok(Checked::Wrong),
        Err(Overloaded) => {
            app.throttle.release(store, attempt).await?;
            tracing::debug!(
                tenant = tenant.id(),
                "login refused: password checks at capacity"
            );
            Ok(Checked::Busy)
        }
    }
}

/// Every password check is in use: refused at once, never queued (see [`crate::password`]).
fn busy_page() -> Response {
    let mut response = login_page::error(
        StatusCode::SERVICE_UNAVAILABLE,
        "Too many sign-ins at once. Please try again in a moment.",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
        .extensions_mut()
        .insert(ErrorCode(OAuthError::TemporarilyUnavailable.code()));
    response
}

type FormCheck = Result<PendingLogin, (StatusCode, &'static str)>;

/// The pending login the form belongs to, if its CSRF token matches both the form field and
/// the cookie set with the form; otherwise what the error page says.
async fn verified_form(
    app: &AppState,
    tenant: &Tenant,
    params: &Params,
    headers: &HeaderMap,
) -> Result<FormCheck, StoreUnavailable> {
    let login_id = params.get("login_id").unwrap_or_default();
    let pending = app.store.login(login_id, app.clock.now()).await?;
    Ok(check_form(tenant, pending, params, headers))
}

fn check_form(
    tenant: &Tenant,
    pending: Option<PendingLogin>,
    params: &Params,
    headers: &HeaderMap,
) -> FormCheck {
    let pending = pending
        .filter(|p| p.tenant == tenant.id())
        .ok_or((StatusCode::BAD_REQUEST, "This sign-in page has expired."))?;
    let form_csrf = params.get("csrf").unwrap_or_default();
    let cookie_csrf = cookies::read(headers, tenant, cookies::CSRF).unwrap_or_default();
    let csrf_ok = bool::from(form_csrf.as_bytes().ct_eq(pending.csrf.as_bytes()))
        & bool::from(cookie_csrf.as_bytes().ct_eq(pending.csrf.as_bytes()));
    if !csrf_ok {
        return Err((
            StatusCode::FORBIDDEN,
            "The sign-in form could not be verified.",
        ));
    }
    Ok(pending)
}

/// Starts a session for the user and answers the pending request with a code.
async fn signed_in(
    app: &AppState,
    tenant: &Tenant,
    pending: PendingLogin,
    username: &str,
) -> Result<Response, StoreUnavailable> {
    let now = app.clock.now();
    let session_id = random_token();
    let session = Session {
        tenant: tenant.id().to_owned(),
        username: username.to_owned(),
        auth_time: now,
        expires_at: now + SESSION_SECONDS,
        clients: Vec::new(),
    };
    app.store.save_session(&session_id, &session).await?;
    let signed_in = SignedIn {
        session_id: &session_id,
        username,
        auth_time: now,
    };
    let mut response = code_redirect(app, tenant, pending.request, signed_in).await?;
    cookies::set(
        &mut response,
        tenant,
        cookies::SESSION,
        &session_id,
        SESSION_SECONDS,
    );
    cookies::set(&mut response, tenant, cookies::CSRF, "", 0);
    Ok(response)
}
