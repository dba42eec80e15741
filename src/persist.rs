//! Persistent state: what must survive a restart (newest serials and when they were first
//! seen, publication gaps, per-address serials), as a JSON file.
//!
//! [`save`] is atomic: the file is written to a temporary file in the same directory,
//! fsynced and renamed over the target, so a crash leaves either the old or the new file.
//! [`load`] distinguishes a missing file (`Ok(None)`, first start) from a corrupt one or one
//! of another version (`Err`, which the daemon logs before starting afresh).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::state::{PersistedService, PersistedZone};
use crate::status::SavedTracker;
use crate::UnixMs;

/// The state file format version this build reads and writes.
pub const STATE_VERSION: u32 = 1;

/// The whole persisted state of the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedState {
    /// Format version ([`STATE_VERSION`]).
    pub version: u32,
    /// When the state was saved (ms since the epoch).
    pub saved_at: UnixMs,
    /// Per-zone state, by zone name.
    pub zones: BTreeMap<String, PersistedZone>,
    /// Confirmed statuses: the confirmation state of every group (a zone's group component
    /// and its nameservers, a service group and its components), by group name. Restored on
    /// start so that a restart neither announces a confirmed outage again nor clears it
    /// early (`status::Confirmation::restore`).
    #[serde(default)]
    pub statuses: BTreeMap<String, SavedTracker>,
    /// Service component state: each check target's up/down latch, by group, then
    /// component.
    #[serde(default)]
    pub services: BTreeMap<String, BTreeMap<String, PersistedService>>,
}

impl PersistedState {
    /// An empty state of the current version, saved at `saved_at`.
    pub fn new(saved_at: UnixMs) -> PersistedState {
        PersistedState {
            version: STATE_VERSION,
            saved_at,
            zones: BTreeMap::new(),
            statuses: BTreeMap::new(),
            services: BTreeMap::new(),
        }
    }
}

/// Why the state could not be saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// Reading the state file failed (other than it not existing).
    #[error("cannot read state file {}: {source}", path.display())]
    Read {
        /// The state file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// Writing, syncing or renaming the state file failed.
    #[error("cannot write state file {}: {source}", path.display())]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The state file is not valid JSON of the expected shape.
    #[error("state file {} is corrupt: {source}", path.display())]
    Corrupt {
        /// The state file.
        path: PathBuf,
        /// The parse error (with line and column).
        source: serde_json::Error,
    },
    /// The state file was written by an incompatible version of nsprobe.
    #[error("state file {} has format version {found}, this nsprobe reads version {expected}", path.display())]
    Version {
        /// The state file.
        path: PathBuf,
        /// The version found in the file.
        found: u32,
        /// The version this build reads.
        expected: u32,
    },
    /// The state could not be serialised.
    #[error("cannot serialise state: {0}")]
    Serialize(#[source] serde_json::Error),
}

/// Saves `state` to `path` atomically (temporary file in the same directory, fsync, rename).
pub fn save(path: &Path, state: &PersistedState) -> Result<(), PersistError> {
    let json = serde_json::to_vec_pretty(state).map_err(PersistError::Serialize)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "nsprobe-state.json".to_string());
    let tmp = dir.join(format!(".{file_name}.tmp.{}", std::process::id()));
    let write_err = |p: &Path| {
        let p = p.to_path_buf();
        move |source| PersistError::Write { path: p, source }
    };
    let result = (|| {
        let mut f = File::create(&tmp).map_err(write_err(&tmp))?;
        f.write_all(&json).map_err(write_err(&tmp))?;
        f.write_all(b"\n").map_err(write_err(&tmp))?;
        f.sync_all().map_err(write_err(&tmp))?;
        drop(f);
        fs::rename(&tmp, path).map_err(write_err(path))
    })();
    if result.is_err() {
        // Best effort: do not leave the temporary file behind.
        let _ = fs::remove_file(&tmp);
        return result;
    }
    // Make the rename durable; not all platforms can open a directory, so best effort.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Loads the state from `path`: `Ok(None)` when the file does not exist; an error when it
/// cannot be read, is corrupt, or has another format version.
pub fn load(path: &Path) -> Result<Option<PersistedState>, PersistError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(PersistError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let corrupt = |source| PersistError::Corrupt {
        path: path.to_path_buf(),
        source,
    };
    /// Only the version, checked before the rest so that a future format is reported as such.
    #[derive(Deserialize)]
    struct VersionOnly {
        version: u32,
    }
    let VersionOnly { version } = serde_json::from_slice(&bytes).map_err(corrupt)?;
    if version != STATE_VERSION {
        return Err(PersistError::Version {
            path: path.to_path_buf(),
            found: version,
            expected: STATE_VERSION,
        });
    }
    serde_json::from_slice(&bytes).map(Some).map_err(corrupt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Thresholds;
    use crate::state::tests::{obs, ok, zone, MIN, T0};
    use crate::state::ZoneState;

    fn sample() -> PersistedState {
        let (mut z, keys) = zone(&["a.nic.dk", "l.nic.dk"]);
        z.observe(obs(&keys[0], T0 - 5 * MIN, ok(2026062400, 5)));
        z.observe(obs(&keys[1], T0 - 5 * MIN, ok(2026062400, 5)));
        z.observe(obs(&keys[0], T0, ok(2026062401, 5)));
        let mut s = PersistedState::new(T0 + MIN);
        s.zones.insert("dk.".into(), z.to_persisted());
        s
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.json");
        let s = sample();
        save(&path, &s).expect("save");
        let back = load(&path).expect("load").expect("present");
        assert_eq!(back, s);
        // The restored zone reports the same newest serial and first-seen time.
        let mut z = ZoneState::new("dk.", Thresholds::default());
        z.restore(back.zones.get("dk.").cloned().expect("zone"));
        assert_eq!(z.newest_serial(), Some(2026062401));
        assert_eq!(z.serial_first_seen(), Some(T0));
        // Saving again replaces the file and leaves no temporary file behind.
        let mut s2 = s.clone();
        s2.saved_at += MIN;
        save(&path, &s2).expect("save again");
        assert_eq!(load(&path).expect("load").expect("present"), s2);
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
    }

    #[test]
    fn missing_file_is_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(load(&dir.path().join("absent.json"))
            .expect("no error")
            .is_none());
    }

    #[test]
    fn corrupt_file_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.json");
        fs::write(&path, b"{\"version\": 1, \"saved_at\": 12, \"zones\": {").expect("write");
        let err = load(&path).expect_err("corrupt");
        assert!(matches!(err, PersistError::Corrupt { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("state.json is corrupt"), "{msg}");
        fs::write(&path, b"not json at all").expect("write");
        assert!(matches!(load(&path), Err(PersistError::Corrupt { .. })));
        // Right version, wrong shape.
        fs::write(
            &path,
            b"{\"version\": 1, \"saved_at\": \"yesterday\", \"zones\": {}}",
        )
        .expect("write");
        assert!(matches!(load(&path), Err(PersistError::Corrupt { .. })));
    }

    #[test]
    fn wrong_version_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.json");
        fs::write(&path, b"{\"version\": 99, \"whatever\": true}").expect("write");
        let err = load(&path).expect_err("version");
        assert!(
            matches!(
                err,
                PersistError::Version {
                    found: 99,
                    expected: STATE_VERSION,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("format version 99"));
    }

    #[test]
    fn unwritable_directory_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("no-such-dir").join("state.json");
        let err = save(&path, &sample()).expect_err("no directory");
        assert!(matches!(err, PersistError::Write { .. }), "{err:?}");
    }
}
