//! A projected volume on disk, laid out and updated exactly as kubelet's atomic writer does:
//!
//! ```text
//! dir/..2026_11_29_06_30_00.000000001/   the files of one version
//! dir/..data -> ..2026_11_29_06_30_00.000000001
//! dir/region.json -> ..data/region.json  one link per top-level name
//! ```
//!
//! A new version is written into a fresh timestamped directory and published by renaming a
//! new `..data` link over the old one, so a reader sees either every old file or every new
//! one, never a mix. It must never modify a published version in place.

use std::io;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::projection::ProjectedFiles;

const DATA_LINK: &str = "..data";
const DATA_LINK_NEXT: &str = "..data_tmp";

/// The mounted directory of one pod's volume.
#[derive(Debug)]
pub struct ProjectedDir {
    dir: PathBuf,
    published: Option<(String, ProjectedFiles)>,
}

impl ProjectedDir {
    /// An empty volume at `dir`: a new pod never sees an earlier pod's files.
    pub fn create(dir: PathBuf) -> io::Result<Self> {
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            published: None,
        })
    }

    /// The directory to hand to the auth-server.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Publishes `files` as the new version; `Ok(false)` when they are what is published.
    pub fn publish(&mut self, files: &ProjectedFiles) -> io::Result<bool> {
        if self.published.as_ref().is_some_and(|(_, old)| old == files) {
            return Ok(false);
        }
        let version = version_name();
        let version_dir = self.dir.join(&version);
        std::fs::create_dir(&version_dir)?;
        for (path, file) in files {
            let target = version_dir.join(path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&target, &file.bytes)?;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(file.mode))?;
        }
        // The swap: one rename(2) of a link replaces ..data atomically.
        let next = self.dir.join(DATA_LINK_NEXT);
        let _ = std::fs::remove_file(&next);
        symlink(&version, &next)?;
        std::fs::rename(&next, self.dir.join(DATA_LINK))?;

        let new_names = top_level_names(files);
        for name in &new_names {
            let link = self.dir.join(name);
            if link.symlink_metadata().is_err() {
                symlink(Path::new(DATA_LINK).join(name), link)?;
            }
        }
        if let Some((old_version, old_files)) = self.published.take() {
            for name in top_level_names(&old_files) {
                if !new_names.contains(&name) {
                    std::fs::remove_file(self.dir.join(name))?;
                }
            }
            std::fs::remove_dir_all(self.dir.join(old_version))?;
        }
        self.published = Some((version, files.clone()));
        Ok(true)
    }
}

fn top_level_names(files: &ProjectedFiles) -> std::collections::BTreeSet<String> {
    files
        .keys()
        .filter_map(|path| path.split('/').next())
        .map(str::to_owned)
        .collect()
}

/// `..YYYY_MM_DD_HH_MM_SS.<n>` in UTC, kubelet's naming; `n` keeps two versions written in one
/// second apart.
fn version_name() -> String {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "..{year:04}_{month:02}_{day:02}_{:02}_{:02}_{:02}.{:09}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::super::projection::ProjectedFile;
    use super::*;

    fn files(entries: &[(&str, &str)]) -> ProjectedFiles {
        entries
            .iter()
            .map(|(name, text)| {
                let file = ProjectedFile {
                    bytes: text.as_bytes().to_vec(),
                    mode: 0o440,
                };
                (name.to_string(), file)
            })
            .collect()
    }

    fn read(dir: &Path, name: &str) -> Option<String> {
        std::fs::read_to_string(dir.join(name)).ok()
    }

    #[test]
    fn files_are_links_through_data_to_a_timestamped_version() {
        let tmp = tempfile::tempdir().unwrap();
        let mut volume = ProjectedDir::create(tmp.path().join("v")).unwrap();
        assert!(volume.publish(&files(&[("region.json", "{}")])).unwrap());
        let dir = volume.path();
        assert_eq!(
            std::fs::read_link(dir.join("region.json")).unwrap(),
            Path::new("..data/region.json")
        );
        let version = std::fs::read_link(dir.join("..data")).unwrap();
        assert!(version.to_string_lossy().starts_with("..20"), "{version:?}");
        assert_eq!(read(dir, "region.json").as_deref(), Some("{}"));
    }

    #[test]
    fn a_new_version_swaps_everything_and_removes_what_is_gone() {
        let tmp = tempfile::tempdir().unwrap();
        let mut volume = ProjectedDir::create(tmp.path().join("v")).unwrap();
        volume
            .publish(&files(&[("a.json", "1"), ("b.json", "1")]))
            .unwrap();
        let first = std::fs::read_link(volume.path().join("..data")).unwrap();
        assert!(
            !volume
                .publish(&files(&[("a.json", "1"), ("b.json", "1")]))
                .unwrap()
        );
        volume
            .publish(&files(&[("a.json", "2"), ("c.json", "2")]))
            .unwrap();
        let dir = volume.path();
        assert_eq!(read(dir, "a.json").as_deref(), Some("2"));
        assert_eq!(read(dir, "c.json").as_deref(), Some("2"));
        assert!(dir.join("b.json").symlink_metadata().is_err());
        assert!(!dir.join(first).exists(), "the old version is removed");
        let entries = std::fs::read_dir(dir).unwrap().count();
        assert_eq!(entries, 4, "..data, one version, a.json, c.json");
    }

    #[test]
    fn a_new_volume_starts_empty() {
        let tmp = tempfile::tempdir().unwrap();
        let mut earlier = ProjectedDir::create(tmp.path().join("v")).unwrap();
        earlier.publish(&files(&[("gone.json", "1")])).unwrap();
        let volume = ProjectedDir::create(tmp.path().join("v")).unwrap();
        assert_eq!(std::fs::read_dir(volume.path()).unwrap().count(), 0);
    }

    #[test]
    fn version_names_use_the_utc_calendar() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_786), (2026, 11, 29));
    }
}
