//! The `prompt` parameter (OIDC Core §3.1.2.1) and when a live session may answer a request
//! without showing the sign-in form. Pure: the caller supplies the session and the time.
//!
//! Meridian has no consent screen (clients are registered by the tenant's administrators, so
//! their consent is given at registration): `prompt=consent` asks for something this server
//! cannot do and is answered `consent_required`. `prompt=select_account` is honoured by the
//! sign-in form, which is where the user names the account: it is shown even with a session.

use meridian_contract::UnixSeconds;
use serde::{Deserialize, Serialize};

use super::OAuthError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Prompt {
    /// Use a live session, else show the login page.
    Default,
    /// Never show a page: `login_required` without a session.
    None,
    /// Always show the sign-in form (`login`, `select_account`).
    Login,
}

/// The values of `prompt` this server honours, as discovery lists them.
pub const HONOURED_PROMPTS: &[&str] = &["none", "login", "select_account"];
/// Every value it understands: `consent` is understood, and refused.
const PROMPT_VALUES: &[&str] = &["none", "login", "select_account", "consent"];

impl Prompt {
    pub fn parse(prompt: Option<&str>) -> Result<Self, OAuthError> {
        let values: Vec<&str> = prompt
            .unwrap_or_default()
            .split(' ')
            .filter(|p| !p.is_empty())
            .collect();
        if values.iter().any(|value| !PROMPT_VALUES.contains(value)) {
            return Err(OAuthError::InvalidRequest("unknown prompt value"));
        }
        if values.contains(&"none") {
            // OIDC Core §3.1.2.1: `none` with any other value is an error.
            return if values.len() == 1 {
                Ok(Self::None)
            } else {
                Err(OAuthError::InvalidRequest("prompt=none cannot be combined"))
            };
        }
        if values.contains(&"consent") {
            return Err(OAuthError::ConsentRequired);
        }
        Ok(if values.is_empty() {
            Self::Default
        } else {
            Self::Login
        })
    }
}

/// The signed-in user of a live session, as far as an authorize request cares.
#[derive(Debug, Clone, Copy)]
pub struct SessionView<'a> {
    pub username: &'a str,
    pub auth_time: UnixSeconds,
}

/// What an authorize request gets, given the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A code for the session's user.
    Code,
    /// The sign-in form.
    SignIn,
    /// An error sent to the redirect URI.
    Error(OAuthError),
}

/// OIDC Core §3.1.2.1: a session answers unless the client asked for a fresh sign-in, the
/// session is older than `max_age` (then the user MUST re-authenticate), or `id_token_hint`
/// names another user. With `prompt=none` any of those is `login_required`.
pub fn answer(
    prompt: Prompt,
    max_age: Option<u64>,
    hinted_user: Option<&str>,
    session: Option<SessionView<'_>>,
    now: UnixSeconds,
) -> Answer {
    let usable = session.is_some_and(|session| {
        let age = now.saturating_sub(session.auth_time);
        let fresh = max_age.is_none_or(|max| u64::try_from(age).is_ok_and(|age| age <= max));
        let same_user = hinted_user.is_none_or(|user| user == session.username);
        prompt != Prompt::Login && fresh && same_user
    });
    match (usable, prompt) {
        (true, _) => Answer::Code,
        (false, Prompt::None) => Answer::Error(OAuthError::LoginRequired),
        (false, _) => Answer::SignIn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: SessionView<'static> = SessionView {
        username: "alice",
        auth_time: 1_000,
    };

    #[test]
    fn prompt_none_alone_only() {
        assert_eq!(Prompt::parse(Some("none")).unwrap(), Prompt::None);
        assert!(Prompt::parse(Some("none login")).is_err());
        assert_eq!(Prompt::parse(Some("login")).unwrap(), Prompt::Login);
        assert_eq!(Prompt::parse(None).unwrap(), Prompt::Default);
    }

    #[test]
    fn every_prompt_value_is_honoured_or_refused() {
        assert_eq!(
            Prompt::parse(Some("select_account")).unwrap(),
            Prompt::Login
        );
        assert_eq!(
            Prompt::parse(Some("login consent")),
            Err(OAuthError::ConsentRequired)
        );
        assert!(matches!(
            Prompt::parse(Some("login bogus")),
            Err(OAuthError::InvalidRequest(_))
        ));
    }

    #[test]
    fn a_session_older_than_max_age_needs_a_new_sign_in() {
        let answer = |max_age, prompt| answer(prompt, max_age, None, Some(ALICE), 1_100);
        assert_eq!(answer(None, Prompt::Default), Answer::Code);
        assert_eq!(answer(Some(100), Prompt::Default), Answer::Code);
        assert_eq!(answer(Some(99), Prompt::Default), Answer::SignIn);
        assert_eq!(answer(Some(0), Prompt::Default), Answer::SignIn);
        assert_eq!(
            answer(Some(99), Prompt::None),
            Answer::Error(OAuthError::LoginRequired)
        );
    }

    #[test]
    fn a_hint_naming_another_user_needs_a_new_sign_in() {
        let hinted = |user, prompt| answer(prompt, None, Some(user), Some(ALICE), 1_000);
        assert_eq!(hinted("alice", Prompt::None), Answer::Code);
        assert_eq!(hinted("bob", Prompt::Default), Answer::SignIn);
        assert_eq!(
            hinted("bob", Prompt::None),
            Answer::Error(OAuthError::LoginRequired)
        );
    }
}
