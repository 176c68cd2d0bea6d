//! Condition types Meridian reports, in the shape of Kubernetes' `metav1.Condition`.

use std::fmt;

/// Types of the conditions in Tenant and AuthRegion status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConditionType {
    /// Everything desired is in place and serving.
    Ready,
    /// A change is being rolled out.
    Progressing,
    /// Something is wrong; the message says what, and the last good state keeps serving.
    Degraded,
    /// AuthRegion: the region's API server answers.
    Reachable,
    /// Tenant: the key ring exists and a key may sign.
    KeysReady,
    /// Tenant: every region holds the current configuration and keys.
    Replicated,
}

impl ConditionType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "Ready",
            Self::Progressing => "Progressing",
            Self::Degraded => "Degraded",
            Self::Reachable => "Reachable",
            Self::KeysReady => "KeysReady",
            Self::Replicated => "Replicated",
        }
    }
}

impl fmt::Display for ConditionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
