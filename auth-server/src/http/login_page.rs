//! The server-rendered login and error pages: plain HTML forms that work without JavaScript.
//!
//! Every interpolated value is HTML-escaped. Pages never include a password or a token, and
//! are never cached.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem}\
label,input,button{display:block;width:100%;margin:.4rem 0}input,button{padding:.5rem;box-sizing:border-box}\
.error{color:#b00020}";

/// What the login form shows.
pub struct LoginForm<'a> {
    pub tenant_name: &'a str,
    pub client_name: &'a str,
    pub action: &'a str,
    pub login_id: &'a str,
    pub csrf: &'a str,
    pub username: &'a str,
    pub error: Option<&'a str>,
}

pub fn login(form: &LoginForm<'_>, status: StatusCode) -> Response {
    let error = form
        .error
        .map(|message| format!(r#"<p class="error" role="alert">{}</p>"#, text(message)))
        .unwrap_or_default();
    let body = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Sign in · {tenant}</title><style>{STYLE}</style></head><body>
<h1>Sign in to {tenant}</h1><p>to continue to {client}</p>{error}
<form method="post" action="{action}">
<input type="hidden" name="login_id" value="{login_id}"><input type="hidden" name="csrf" value="{csrf}">
<label for="username">Username</label><input id="username" name="username" autocomplete="username" value="{username}" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form></body></html>"#,
        tenant = text(form.tenant_name),
        client = text(form.client_name),
        action = attr(form.action),
        login_id = attr(form.login_id),
        csrf = attr(form.csrf),
        username = attr(form.username),
    );
    page(status, body)
}

/// An error the user sees instead of a redirect (RFC 6749 §4.1.2.1).
pub fn error(status: StatusCode, message: &str) -> Response {
    let body = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in error</title>
<style>{STYLE}</style></head><body><h1>This sign-in request cannot continue</h1>
<p class="error">{}</p><p>Return to the application and try again.</p></body></html>"#,
        text(message)
    );
    page(status, body)
}

/// What the logout confirmation carries over to its POST.
pub struct LogoutForm<'a> {
    pub tenant_name: &'a str,
    pub csrf: &'a str,
    pub client_id: Option<&'a str>,
    pub post_logout_redirect_uri: Option<&'a str>,
    pub state: Option<&'a str>,
}

/// Asks the user whether to sign out (RP-Initiated Logout 1.0 §2: the OP SHOULD ask when the
/// request does not show that the user's own relying party sent it).
pub fn confirm_logout(form: &LogoutForm<'_>) -> Response {
    let hidden = [
        ("client_id", form.client_id),
        ("post_logout_redirect_uri", form.post_logout_redirect_uri),
        ("state", form.state),
    ]
    .into_iter()
    .filter_map(|(name, value)| {
        value.map(|v| format!(r#"<input type="hidden" name="{name}" value="{}">"#, attr(v)))
    })
    .collect::<String>();
    let body = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Sign out · {tenant}</title><style>{STYLE}</style></head><body>
<h1>Sign out of {tenant}?</h1>
<form method="post" action="logout"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="confirm" value="yes">{hidden}
<button type="submit">Sign out</button></form></body></html>"#,
        tenant = text(form.tenant_name),
        csrf = attr(form.csrf),
    );
    page(StatusCode::OK, body)
}

/// Shown after a logout that names nowhere to go back to.
pub fn signed_out(tenant_name: &str) -> Response {
    let body = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signed out</title>
<style>{STYLE}</style></head><body><h1>You are signed out of {}</h1></body></html>"#,
        text(tenant_name)
    );
    page(StatusCode::OK, body)
}

/// A logout request that cannot be followed: shown, never redirected.
pub fn logout_error(message: &str) -> Response {
    let body = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-out error</title>
<style>{STYLE}</style></head><body><h1>This sign-out request cannot continue</h1>
<p class="error">{}</p><p>Return to the application and try again.</p></body></html>"#,
        text(message)
    );
    page(StatusCode::BAD_REQUEST, body)
}

fn page(status: StatusCode, body: String) -> Response {
    let mut response = (status, Html(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The login form must not be framed by another site (clickjacking).
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    response
}
