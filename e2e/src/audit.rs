//! Counting what a component wrote, from kube-apiserver's own audit log.
//!
//! Each cluster's API server logs every write request (create, update, patch, delete,
//! deletecollection) at Metadata level, one JSON event per line, and nothing else. A test takes
//! a [`AuditMark`] (a byte offset), acts or waits, then counts the writes logged after the mark,
//! e.g. to prove that a steady state sends zero writes. Never reads request bodies (the policy
//! does not log them), so secrets written by a test never reach the log.

use std::{
    io::{Read, Seek, SeekFrom},
    path::{Path, PathBuf},
    time::Duration,
};

use serde::Deserialize;

use crate::{
    error::{Error, Result},
    wait::eventually,
};

/// The audit policy every cluster runs with: writes only, and only once per request
/// (`ResponseComplete`), so one logged event is one write.
pub(crate) const POLICY: &str = r#"apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived", "ResponseStarted"]
rules:
  - level: Metadata
    verbs: ["create", "update", "patch", "delete", "deletecollection"]
  - level: None
"#;

/// A position in a cluster's audit log; only events logged after it are counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditMark {
    offset: u64,
}

/// One write request as the API server saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteRequest {
    /// `create`, `update`, `patch`, `delete` or `deletecollection`.
    pub verb: String,
    /// The effective user: the impersonated one if the request impersonated.
    pub user: String,
    /// Plural resource with subresource, e.g. `configmaps` or `tenants/status`.
    pub resource: String,
    pub api_group: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// HTTP status returned; failed writes are writes the component sent all the same.
    pub code: Option<u16>,
}

/// Which writes to count; every field left `None` matches anything.
#[derive(Clone, Debug, Default)]
pub struct WriteFilter {
    pub verb: Option<String>,
    pub resource: Option<String>,
    pub user: Option<String>,
    pub namespace: Option<String>,
}

impl WriteFilter {
    pub fn any() -> Self {
        Self::default()
    }

    pub fn verb(mut self, verb: &str) -> Self {
        self.verb = Some(verb.to_string());
        self
    }

    /// `configmaps`, or `tenants/status` for a subresource.
    pub fn resource(mut self, resource: &str) -> Self {
        self.resource = Some(resource.to_string());
        self
    }

    pub fn user(mut self, user: &str) -> Self {
        self.user = Some(user.to_string());
        self
    }

    pub fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.to_string());
        self
    }

    pub fn matches(&self, write: &WriteRequest) -> bool {
        let field = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|want| Some(want) == have)
        };
        field(&self.verb, Some(&write.verb))
            && field(&self.resource, Some(&write.resource))
            && field(&self.user, Some(&write.user))
            && field(&self.namespace, write.namespace.as_deref())
    }
}

/// One cluster's audit log.
#[derive(Clone, Debug)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current end of the log. Writes whose responses the caller has already seen may
    /// still be logged after the mark (the event is written as the request completes), so
    /// take the mark before acting, not after.
    pub fn mark(&self) -> Result<AuditMark> {
        let (_, end) = self.read_from(0, true)?;
        Ok(AuditMark { offset: end })
    }

    /// Every write logged after `mark`, oldest first.
    pub fn writes_since(&self, mark: AuditMark) -> Result<Vec<WriteRequest>> {
        let (text, _) = self.read_from(mark.offset, false)?;
        text.lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| parse_event(line).map_err(|reason| self.unreadable(reason)))
            .collect()
    }

    /// How many writes matching `filter` were logged after `mark`.
    pub fn count_writes(&self, mark: AuditMark, filter: &WriteFilter) -> Result<usize> {
        Ok(self
            .writes_since(mark)?
            .iter()
            .filter(|w| filter.matches(w))
            .count())
    }

    /// Waits until at least `at_least` matching writes were logged after `mark`; returns them.
    pub async fn wait_for_writes(
        &self,
        mark: AuditMark,
        filter: &WriteFilter,
        at_least: usize,
        timeout: Duration,
    ) -> Result<Vec<WriteRequest>> {
        let what = format!(
            "{at_least} write(s) matching {filter:?} in {}",
            self.path.display()
        );
        eventually(&what, timeout, async || {
            let found: Vec<_> = self
                .writes_since(mark)?
                .into_iter()
                .filter(|w| filter.matches(w))
                .collect();
            Ok((found.len() >= at_least).then_some(found))
        })
        .await
    }

    /// The matching writes logged during the next `window`. Proving that something sends no
    /// writes (a steady state) takes an observation window, not a poll: this is that window,
    /// named, so a test does not hide it in a sleep.
    pub async fn writes_during(
        &self,
        filter: &WriteFilter,
        window: Duration,
    ) -> Result<Vec<WriteRequest>> {
        let mark = self.mark()?;
        tokio::time::sleep(window).await;
        Ok(self
            .writes_since(mark)?
            .into_iter()
            .filter(|w| filter.matches(w))
            .collect())
    }

    /// The complete lines from `offset` on, and the offset just past the last complete line
    /// (a line being written is left for next time). The metadata-only `mark` skips the text.
    fn read_from(&self, offset: u64, only_end: bool) -> Result<(String, u64)> {
        let mut file = match std::fs::File::open(&self.path) {
            Ok(file) => file,
            // The API server creates the log on its first event.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((String::new(), 0)),
            Err(e) => return Err(self.unreadable(e.to_string())),
        };
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| self.unreadable(e.to_string()))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| self.unreadable(e.to_string()))?;
        let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        bytes.truncate(complete);
        let end = offset + complete as u64;
        if only_end {
            return Ok((String::new(), end));
        }
        let text = String::from_utf8(bytes).map_err(|e| self.unreadable(e.to_string()))?;
        Ok((text, end))
    }

    fn unreadable(&self, reason: String) -> Error {
        Error::Audit {
            path: self.path.clone(),
            reason,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    verb: String,
    user: UserInfo,
    impersonated_user: Option<UserInfo>,
    object_ref: Option<ObjectRef>,
    response_status: Option<Status>,
}

#[derive(Deserialize)]
struct UserInfo {
    #[serde(default)]
    username: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ObjectRef {
    #[serde(default)]
    resource: String,
    subresource: Option<String>,
    #[serde(default)]
    api_group: String,
    namespace: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct Status {
    code: Option<u16>,
}

fn parse_event(line: &str) -> Result<WriteRequest, String> {
    let event: Event =
        serde_json::from_str(line).map_err(|e| format!("bad event {line:?}: {e}"))?;
    let object = event.object_ref.unwrap_or(ObjectRef {
        resource: String::new(),
        subresource: None,
        api_group: String::new(),
        namespace: None,
        name: None,
    });
    let resource = match object.subresource {
        Some(sub) => format!("{}/{sub}", object.resource),
        None => object.resource,
    };
    Ok(WriteRequest {
        verb: event.verb,
        user: event.impersonated_user.unwrap_or(event.user).username,
        resource,
        api_group: object.api_group,
        namespace: object.namespace,
        name: object.name,
        code: event.response_status.and_then(|s| s.code),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREATE: &str = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","stage":"ResponseComplete","verb":"create","user":{"username":"admin","groups":["system:masters"]},"impersonatedUser":{"username":"system:serviceaccount:meridian:operator"},"objectRef":{"resource":"tenants","subresource":"status","namespace":"team-a","name":"acme","apiGroup":"meridian.dev","apiVersion":"v1alpha1"},"responseStatus":{"metadata":{},"code":201}}"#;

    #[test]
    fn an_impersonated_status_write_is_attributed_to_the_impersonated_user() {
        let write = parse_event(CREATE).unwrap();
        assert_eq!(write.user, "system:serviceaccount:meridian:operator");
        assert_eq!(write.resource, "tenants/status");
        assert_eq!(write.code, Some(201));
        assert!(
            WriteFilter::any()
                .verb("create")
                .resource("tenants/status")
                .matches(&write)
        );
        assert!(!WriteFilter::any().resource("tenants").matches(&write));
        assert!(!WriteFilter::any().user("admin").matches(&write));
    }

    #[test]
    fn a_mark_excludes_earlier_events_and_a_half_written_line() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("audit.log"));
        assert_eq!(log.writes_since(log.mark().unwrap()).unwrap(), vec![]);
        std::fs::write(log.path(), format!("{CREATE}\n")).unwrap();
        let mark = log.mark().unwrap();
        std::fs::write(log.path(), format!("{CREATE}\n{CREATE}\n{}", &CREATE[..20])).unwrap();
        assert_eq!(log.count_writes(mark, &WriteFilter::any()).unwrap(), 1);
    }
}
