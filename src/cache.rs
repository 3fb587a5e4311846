//! The on-disk cache shared by the probe (`probe.rs`) and the Kconfig
//! values the rules read (`config.rs`).
//!
//! Kbuild removed its make-level cache because stale answers after a
//! compiler update were "difficult to figure out" and root-owned entries
//! broke builds (`e08d6de4e532`). So here every key spells out everything
//! its answer depends on (file identities: path, device, inode, size,
//! mtime), and:
//! - the directory is created private to the user (0700); a directory or an
//!   entry owned by someone else is not used;
//! - entries are written to a temporary file and renamed into place, and
//!   hold their full key: a truncated, corrupt or colliding entry is a
//!   miss, never trusted;
//! - under `make -j` with a cold cache, concurrent secwraps wait on a
//!   per-key lock file, so each answer is computed once.
//!
//! A key is a struct its caller owns (`probe::ProbeKey`,
//! `config::rules::KconfigKey`), serialised to JSON: the entry's file name
//! is `<kind>-<hash of that JSON>`, and the entry holds the key itself.
//! Paths and arguments in keys are [`OsText`], as in the record: a string
//! when UTF-8, else `{"bytes": "<base64>"}`, so two flags that differ in a
//! non-UTF-8 byte are two keys (the hand-joined `\0` strings before
//! converted them lossily into one). A caller can fold several answers
//! into one entry by making one key struct of their parts.
//!
//! Where: `SECWRAP_CACHE_DIR`, else `$XDG_CACHE_HOME/secwrap`, else
//! `~/.cache/secwrap`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::record::OsText;

/// Bumped when the entry format changes, so old entries are not reused
/// (2: keys are serialised key structs, no longer `\0`-joined text).
const ENTRY_FORMAT: u32 = 2;

/// The cache directory the environment names.
pub fn default_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    var(crate::exit::CACHE_DIR_VAR)
        .map(PathBuf::from)
        .or_else(|| var("XDG_CACHE_HOME").map(|dir| PathBuf::from(dir).join("secwrap")))
        .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".cache/secwrap")))
}

/// A usable cache directory.
#[derive(Clone, Debug)]
pub struct DiskCache {
    dir: PathBuf,
}

impl DiskCache {
    /// The cache at `dir`, created (0700) if needed; `None` when it cannot
    /// be created or belongs to someone else: secwrap then works uncached.
    pub fn open(dir: PathBuf) -> Option<DiskCache> {
        // One stat on the usual path (the directory exists).
        let metadata = match std::fs::metadata(&dir) {
            Ok(metadata) => metadata,
            Err(_) => {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&dir)
                    .ok()?;
                std::fs::metadata(&dir).ok()?
            }
        };
        (metadata.is_dir() && metadata.uid() == effective_uid()).then_some(DiskCache { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The value stored for `key`, or `compute()`'s, stored under the key's
    /// lock so concurrent processes compute it once. `kind` prefixes the
    /// entry's file name. Returns the value and whether it came from the
    /// cache. Errors are not stored.
    pub fn get_or_compute<K, T, E, F>(
        &self,
        kind: &str,
        key: &K,
        compute: F,
    ) -> Result<(T, bool), E>
    where
        K: Serialize + ?Sized,
        T: Serialize + for<'de> Deserialize<'de>,
        F: FnOnce() -> Result<T, E>,
    {
        // A key that does not serialise (none of ours) only costs caching.
        let (Ok(key_text), Ok(key)) = (serde_json::to_string(key), serde_json::to_value(key))
        else {
            return compute().map(|value| (value, false));
        };
        let name = format!("{kind}-{}", short_hash(&key_text));
        let entry_path = self.dir.join(&name);
        if let Some(value) = read_entry(&entry_path, &key) {
            return Ok((value, true));
        }
        // Cold: one process computes, the others wait here and then read.
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(self.dir.join(format!("{name}.lock")));
        let _guard = lock.as_ref().ok().filter(|file| file.lock().is_ok());
        if let Some(value) = read_entry(&entry_path, &key) {
            return Ok((value, true));
        }
        let value = compute()?;
        // A cache that cannot be written only costs another computation later.
        let _ = write_entry(&entry_path, &key, &value);
        Ok((value, false))
    }
}

/// The identity of a file for cache keys: path, device, inode, size and
/// mtime in nanoseconds. A rewritten, replaced or touched file has a new one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileIdentity {
    /// The path as the caller names it (the compiler's is canonical).
    pub path: OsText,
    pub device: u64,
    pub inode: u64,
    pub size: u64,
    pub mtime_ns: i64,
}

impl FileIdentity {
    /// The identity of the file at `path` (after symlinks).
    pub fn of(path: &Path) -> std::io::Result<FileIdentity> {
        Ok(FileIdentity::from_metadata(path, &std::fs::metadata(path)?))
    }

    /// The identity of `path`, whose metadata the caller has already read.
    pub fn from_metadata(path: &Path, metadata: &std::fs::Metadata) -> FileIdentity {
        FileIdentity {
            path: OsText::new(path.as_os_str()),
            device: metadata.dev(),
            inode: metadata.ino(),
            size: metadata.len(),
            mtime_ns: metadata
                .mtime()
                .saturating_mul(1_000_000_000)
                .saturating_add(metadata.mtime_nsec()),
        }
    }
}

/// One entry file: its key in full (checked on every read) and the value.
#[derive(Serialize, Deserialize)]
struct Entry<K, T> {
    format: u32,
    key: K,
    value: T,
}

fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn read_entry<T: for<'de> Deserialize<'de>>(path: &Path, key: &serde_json::Value) -> Option<T> {
    let file = File::open(path).ok()?;
    if file.metadata().ok()?.uid() != effective_uid() {
        return None;
    }
    let entry: Entry<serde_json::Value, T> =
        serde_json::from_reader(std::io::BufReader::new(file)).ok()?;
    (entry.format == ENTRY_FORMAT && entry.key == *key).then_some(entry.value)
}

fn write_entry<K: Serialize + ?Sized, T: Serialize>(
    path: &Path,
    key: &K,
    value: &T,
) -> std::io::Result<()> {
    let entry = Entry {
        format: ENTRY_FORMAT,
        key,
        value,
    };
    crate::atomic::write_atomic(path, |file| {
        let mut writer = std::io::BufWriter::new(file);
        serde_json::to_writer(&mut writer, &entry).map_err(std::io::Error::other)?;
        writer.write_all(b"\n")?;
        writer.flush()
    })
}

fn short_hash(text: &str) -> String {
    Sha256::digest(text.as_bytes())[..12]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Every entry, as (file name, key and value), for `secwrap cache show`.
pub fn list_entries(dir: &Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(String, String)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_str()?.to_string();
            if name.ends_with(".lock") || name.starts_with('.') {
                return None;
            }
            let entry: Entry<serde_json::Value, serde_json::Value> =
                serde_json::from_slice(&std::fs::read(entry.path()).ok()?).ok()?;
            Some((name, format!("{} => {}", entry.key, entry.value)))
        })
        .collect();
    found.sort();
    found
}

/// Removes every entry (and its lock file); returns how many entries went.
pub fn clear(dir: &Path) -> std::io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ours = ["id-", "probe-", "kconfig-", ".tmp-"]
            .iter()
            .any(|prefix| name.starts_with(prefix));
        if ours {
            std::fs::remove_file(entry.path())?;
            removed += usize::from(!name.ends_with(".lock") && !name.starts_with(".tmp-"));
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_truncated_and_foreign_entries_are_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("probe-x");
        let key = serde_json::json!({"compiler": "/usr/bin/gcc", "flags": ["-fx"]});
        write_entry(&path, &key, &true).unwrap();
        assert_eq!(read_entry::<bool>(&path, &key), Some(true));
        // A different key hashed to the same name is a miss.
        let other = serde_json::json!({"compiler": "/usr/bin/gcc", "flags": ["-fy"]});
        assert_eq!(read_entry::<bool>(&path, &other), None);
        // So is an entry of another format.
        let old = serde_json::json!({"format": 1, "key": key, "value": true});
        std::fs::write(&path, old.to_string()).unwrap();
        assert_eq!(read_entry::<bool>(&path, &key), None);
        write_entry(&path, &key, &true).unwrap();
        let text = std::fs::read(&path).unwrap();
        std::fs::write(&path, &text[..text.len() / 2]).unwrap();
        assert_eq!(read_entry::<bool>(&path, &key), None);
        std::fs::write(&path, b"\x00\xff garbage").unwrap();
        assert_eq!(read_entry::<bool>(&path, &key), None);
    }

    #[test]
    fn computes_once_then_reads() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::open(dir.path().join("cache")).unwrap();
        let first: Result<(u32, bool), ()> = cache.get_or_compute("probe", "k", || Ok(7));
        assert_eq!(first, Ok((7, false)));
        let second: Result<(u32, bool), ()> = cache.get_or_compute("probe", "k", || Ok(8));
        assert_eq!(second, Ok((7, true)));
        let failed: Result<(u32, bool), &str> =
            cache.get_or_compute("probe", "other", || Err("no"));
        assert_eq!(failed, Err("no"));
    }
}
