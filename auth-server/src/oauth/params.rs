//! Request parameters of the form- and query-encoded OAuth endpoints.
//!
//! RFC 6749 §3.1 and §3.2: a parameter sent more than once is an error (even when one copy
//! is empty), and an empty value counts as absent. This type never logs parameter values (they include secrets).

use std::collections::{HashMap, HashSet};

use super::OAuthError;

#[derive(Debug, Default, Clone)]
pub struct Params(HashMap<String, String>);

impl Params {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Self, OAuthError> {
        let mut seen = HashSet::with_capacity(pairs.len());
        let mut map = HashMap::with_capacity(pairs.len());
        for (name, value) in pairs {
            // `a=&a=x` is as ambiguous as `a=x&a=y`: the check comes before dropping empties.
            if !seen.insert(name.clone()) {
                return Err(OAuthError::InvalidRequest("a parameter is repeated"));
            }
            if !value.is_empty() {
                map.insert(name, value);
            }
        }
        Ok(Self(map))
    }

    /// Parses an `application/x-www-form-urlencoded` body.
    pub fn from_form(body: &[u8]) -> Result<Self, OAuthError> {
        let pairs = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .map_err(|_| OAuthError::InvalidRequest("body is not form-urlencoded"))?;
        Self::from_pairs(pairs)
    }

    /// The parameters of an endpoint that takes GET or POST in the same encoding (OIDC Core
    /// §3.1.2.1, RP-Initiated Logout §2): the query of a GET, the body of a POST.
    pub fn from_query_or_form(
        is_post: bool,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<Self, OAuthError> {
        if is_post {
            Self::from_form(body)
        } else {
            Self::from_form(query.unwrap_or_default().as_bytes())
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Every parameter with a value, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn require(&self, name: &'static str) -> Result<&str, OAuthError> {
        self.get(name).ok_or(OAuthError::InvalidRequest(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused() {
        let pairs = vec![("scope".into(), "a".into()), ("scope".into(), "b".into())];
        assert!(Params::from_pairs(pairs).is_err());
    }

    #[test]
    fn a_repeat_with_an_empty_copy_is_refused() {
        let pairs = vec![
            ("scope".into(), String::new()),
            ("scope".into(), "b".into()),
        ];
        assert!(Params::from_pairs(pairs).is_err());
        let pairs = vec![
            ("scope".into(), "b".into()),
            ("scope".into(), String::new()),
        ];
        assert!(Params::from_pairs(pairs).is_err());
    }

    #[test]
    fn an_empty_value_is_absent() {
        let params = Params::from_pairs(vec![("state".into(), String::new())]).unwrap();
        assert_eq!(params.get("state"), None);
    }
}
