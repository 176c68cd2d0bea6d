//! Keeps the served [`Snapshot`] in step with the mounted directory.
//!
//! Kubernetes updates a projected volume by writing a new timestamped directory and swapping
//! the `..data` symlink to it, so every file changes at one instant. A cheap poll of that link
//! (or, outside Kubernetes, of every file's size and mtime) sees exactly those swaps, works on
//! any volume type, and costs one `readlink` per tick; inotify would see the same swap as a
//! burst of create/rename events to debounce. A changed directory is rebuilt off the request
//! path and swapped in atomically. Tenants load one by one (see [`super::load`]): a refused
//! tenant is logged once per revision and keeps its last good state, and only an unreadable
//! `region.json` keeps the whole previous snapshot. This module must never log file contents.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwapOption;
use tokio::sync::watch;

use meridian_contract::Revision;

use super::{Refusal, Snapshot, load_dir};

/// The snapshot being served; `None` until a valid configuration has loaded.
#[derive(Debug, Clone)]
pub struct ConfigHandle {
    current: Arc<ArcSwapOption<Snapshot>>,
    /// Counts installed snapshots, so callers can wait for the next one instead of polling.
    installed: Arc<watch::Sender<u64>>,
    /// Tenants refused at their current revision, so each refusal is logged once.
    refused: Arc<Mutex<HashMap<String, Revision>>>,
}

impl Default for ConfigHandle {
    fn default() -> Self {
        Self {
            current: Arc::default(),
            installed: Arc::new(watch::channel(0).0),
            refused: Arc::default(),
        }
    }
}

impl ConfigHandle {
    pub fn current(&self) -> Option<Arc<Snapshot>> {
        self.current.load_full()
    }

    /// Ready once `region.json` has loaded and, when the directory holds tenants, at least one
    /// of them is served. A process that refuses every tenant (a rollout of a server that cannot
    /// read what the region holds) stays out of its Service, while one tenant's bad files never
    /// take a region's other tenants down.
    pub fn is_ready(&self) -> bool {
        match self.current.load().as_deref() {
            None => false,
            Some(snapshot) => {
                !snapshot.tenants().is_empty()
                    || self.refused.lock().expect("refusals lock").is_empty()
            }
        }
    }

    pub fn install(&self, snapshot: Snapshot) {
        self.current.store(Some(Arc::new(snapshot)));
        self.installed.send_modify(|count| *count += 1);
    }

    /// Notified each time a new snapshot is installed.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.installed.subscribe()
    }

    /// Loads `dir` (blocking), reusing every tenant whose files did not change, and swaps the
    /// result in. Refused tenants are logged once per revision and keep their last good state;
    /// an unreadable `region.json` keeps the whole previous snapshot. Returns whether the
    /// directory loaded as written: a snapshot was installed and no tenant was refused.
    pub fn reload(&self, dir: &Path) -> bool {
        let previous = self.current();
        match load_dir(dir, previous.as_deref()) {
            Ok(loaded) => {
                self.report_refusals(&loaded.refused);
                tracing::info!(
                    dir = %dir.display(),
                    region = %loaded.snapshot.region.name,
                    tenants = loaded.snapshot.tenants().len(),
                    built = loaded.built,
                    refused = loaded.refused.len(),
                    "configuration loaded"
                );
                self.install(loaded.snapshot);
                loaded.refused.is_empty()
            }
            Err(error) => {
                tracing::error!(
                    dir = %dir.display(),
                    reason = error.reason(),
                    serving_previous = self.is_ready(),
                    "configuration refused: {error}"
                );
                false
            }
        }
    }

    /// Tenant ids refused at their current revision.
    pub fn refused_tenants(&self) -> Vec<String> {
        let refused = self.refused.lock().expect("refusals lock");
        let mut ids: Vec<String> = refused.keys().cloned().collect();
        ids.sort();
        ids
    }

    fn report_refusals(&self, refusals: &[Refusal]) {
        let mut logged = self.refused.lock().expect("refusals lock");
        let mut still = HashMap::with_capacity(refusals.len());
        for refusal in refusals {
            if logged.get(&refusal.tenant) != Some(&refusal.revision) {
                tracing::error!(
                    tenant = %refusal.tenant,
                    revision = %refusal.revision,
                    reason = refusal.error.reason(),
                    serving_previous = refusal.serving_previous,
                    "tenant configuration refused: {}",
                    refusal.error
                );
            }
            still.insert(refusal.tenant.clone(), refusal.revision.clone());
        }
        *logged = still;
    }
}

/// What identifies one version of the directory's contents: the `..data` target (Kubernetes
/// swaps it first) and every visible file's size and mtime (Kubernetes adds the links of new
/// files only after the swap, so the link alone would miss a new tenant).
#[derive(Debug, PartialEq, Eq)]
struct Fingerprint {
    data_link: Option<PathBuf>,
    files: Vec<(String, u64, Option<SystemTime>)>,
}

fn fingerprint(dir: &Path) -> Option<Fingerprint> {
    let data_link = std::fs::read_link(dir.join("..data")).ok();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        // Under Kubernetes every content change swaps `..data`, so names are enough and a
        // region with thousands of tenants costs one directory read per tick, not a stat per
        // file. Elsewhere, `fs::metadata` follows any links and notices edits in place.
        if data_link.is_some() {
            files.push((name, 0, None));
        } else {
            let meta = std::fs::metadata(entry.path()).ok()?;
            files.push((name, meta.len(), meta.modified().ok()));
        }
    }
    files.sort();
    Some(Fingerprint { data_link, files })
}

/// A directory being served: the fingerprint it was last loaded at.
pub struct DirWatch {
    handle: ConfigHandle,
    dir: PathBuf,
    seen: Option<Fingerprint>,
}

impl DirWatch {
    /// Loads `dir` now (blocking). The fingerprint is taken before reading, so a swap that
    /// lands during this first load is still seen by [`Self::run`].
    pub fn load(handle: ConfigHandle, dir: PathBuf) -> Self {
        let seen = fingerprint(&dir);
        handle.reload(&dir);
        Self { handle, dir, seen }
    }

    /// Re-loads the directory whenever its fingerprint changes, checking every `interval`
    /// until the task is dropped.
    pub async fn run(mut self, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let dir = self.dir.clone();
            let Ok(current) = tokio::task::spawn_blocking(move || fingerprint(&dir)).await else {
                continue;
            };
            if current.is_none() || current == self.seen {
                continue;
            }
            self.seen = current;
            let (handle, dir) = (self.handle.clone(), self.dir.clone());
            // Parsing keys and hashes is CPU work: keep it off the workers serving requests.
            let _ = tokio::task::spawn_blocking(move || handle.reload(&dir)).await;
        }
    }
}
