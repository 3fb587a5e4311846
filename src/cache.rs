//! The on-disk cache shared by the probe (`probe.rs`: compiler identities,
//! the family of a compiler of unknown name, flag answers) and the Kconfig
//! values the rules read (`config.rs`).
//!
//! Kbuild removed its make-level cache because stale answers after a
//! compiler update were "difficult to figure out" and root-owned entries
//! broke builds (`e08d6de4e532`). So here every key spells out everything
//! its answer depends on (file identities: path, device, inode, size,
//! mtime), and:
//! - the directory is created private to the user (0700); a directory or an
//!   entry owned by someone else is not used, nor a directory others can
//!   write (sticky or not: they could plant and hold the lock files, whose
//!   names are predictable), nor a symlink in the directory's place;
//! - entries are written to a temporary file and renamed into place, and
//!   hold their full key: a truncated, corrupt or colliding entry is a
//!   miss, never trusted;
//! - under `make -j` with a cold cache, concurrent secwraps wait on a
//!   per-key lock file, so each answer is computed once. The wait has a
//!   deadline ([`LOCK_DEADLINE`]): a holder that is stopped, stuck in a
//!   probe, or another user's, costs a computation without the lock, which
//!   [`DiskCache::lock_given_up`] reports, never a hung build (ccache's
//!   `util::LockFile` breaks a lock whose holder shows no activity for 2 s
//!   in the same spirit).
//!
//! A key is a struct its caller owns (`probe::ProbeKey`,
//! `config::rules::KconfigKey`), serialised to JSON: the entry's file name
//! is `<kind>-<hash of that JSON>`, and the entry holds the key itself,
//! which a read compares in full. So the name's hash need not resist a
//! chosen collision: SipHash-1-3 (128 bits, fixed keys: the same name in
//! every version), where the portable SHA-256 was 28k of the 254k
//! instructions of a warm compile (callgrind).
//! Paths and arguments in keys are [`OsText`], as in the record: a string
//! when UTF-8, else `{"bytes": "<base64>"}`, so two flags that differ in a
//! non-UTF-8 byte are two keys (the hand-joined `\0` strings before
//! converted them lossily into one). A caller can fold several answers
//! into one entry by making one key struct of their parts.
//!
//! Where: `SECWRAP_CACHE_DIR`, else `$XDG_CACHE_HOME/secwrap`, else
//! `~/.cache/secwrap`.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::trust::{WORLD_WRITABLE, effective_uid};

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

/// How long a process waits for another to compute an answer before it
/// computes the answer itself: a cold probe takes milliseconds, a slow
/// compiler's `--version` well under a second.
pub const LOCK_DEADLINE: Duration = Duration::from_secs(10);

/// The longest pause between two tries at a held lock (ccache's
/// `util::LockFile` sleeps at most 50 ms too).
const LOCK_MAX_PAUSE: Duration = Duration::from_millis(50);

/// A usable cache directory.
#[derive(Clone, Debug)]
pub struct DiskCache {
    dir: PathBuf,
    lock_deadline: Duration,
    /// The first lock this cache, or a clone of it, gave up waiting for.
    /// Shared by the clones, so that whoever asks last (the plan, after
    /// the Kconfig values and the probes) hears of every stage's wait.
    gave_up: Arc<Mutex<Option<PathBuf>>>,
}

impl DiskCache {
    /// The cache at `dir`, created (0700) if needed; `None` when it cannot
    /// be created, is not a directory (a symlink in its place included),
    /// belongs to someone else or others can write it: secwrap then works
    /// uncached.
    pub fn open(dir: PathBuf) -> Option<DiskCache> {
        // One lstat on the usual path (the directory exists).
        let metadata = match std::fs::symlink_metadata(&dir) {
            Ok(metadata) => metadata,
            Err(_) => {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&dir)
                    .ok()?;
                std::fs::symlink_metadata(&dir).ok()?
            }
        };
        // Others who can write the directory can create and flock the next
        // cold key's lock file (hardening review 9), sticky bit or not.
        let private = metadata.is_dir()
            && metadata.uid() == effective_uid()
            && metadata.mode() & WORLD_WRITABLE == 0;
        private.then(|| DiskCache {
            dir,
            lock_deadline: LOCK_DEADLINE,
            gave_up: Arc::default(),
        })
    }

    /// The same cache with another lock deadline (tests).
    pub fn with_lock_deadline(self, lock_deadline: Duration) -> DiskCache {
        DiskCache {
            lock_deadline,
            ..self
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The lock file this cache (or a clone) stopped waiting for at the
    /// deadline, computing the answer without it; for a warning that says
    /// so once.
    pub fn lock_given_up(&self) -> Option<PathBuf> {
        self.gave_up.lock().ok()?.clone()
    }

    /// [`DiskCache::lock_given_up`] as the warning's text.
    pub fn lock_given_up_message(&self) -> Option<String> {
        self.lock_given_up().map(|lock| {
            format!(
                "waited {:?} for the cache lock `{}`, computed without it",
                self.lock_deadline,
                lock.display()
            )
        })
    }

    /// The value stored for `key`, or `compute()`'s, stored under the key's
    /// lock so concurrent processes compute it once. `kind` prefixes the
    /// entry's file name. Returns the value and whether it came from the
    /// cache. Errors are not stored. A lock not had by the deadline is
    /// given up on (`lock_given_up`) and the value computed all the same.
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
        let Ok(key_text) = serde_json::to_string(key) else {
            return compute().map(|value| (value, false));
        };
        let name = format!("{kind}-{}", short_hash(&key_text));
        let entry_path = self.dir.join(&name);
        if let Some(value) = read_entry(&entry_path, &key_text) {
            return Ok((value, true));
        }
        // Cold: one process computes, the others wait here and then read.
        let lock_path = self.dir.join(format!("{name}.lock"));
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&lock_path);
        let _guard = match lock {
            Ok(file) => match lock_by(&file, self.lock_deadline) {
                Locked::Yes => Some(file),
                Locked::GaveUp => {
                    if let Ok(mut gave_up) = self.gave_up.lock() {
                        gave_up.get_or_insert(lock_path);
                    }
                    None
                }
                Locked::Failed => None,
            },
            // No lock file (a full disk): compute, as without a cache.
            Err(_) => None,
        };
        if let Some(value) = read_entry(&entry_path, &key_text) {
            return Ok((value, true));
        }
        let value = compute()?;
        // A cache that cannot be written only costs another computation later.
        let _ = write_entry(&entry_path, &key_text, &value);
        Ok((value, false))
    }
}

/// How waiting for a lock ended.
enum Locked {
    Yes,
    /// Still held by another at the deadline.
    GaveUp,
    /// `flock` itself failed (a file system without locks): as before
    /// deadlines, the value is computed without the lock, quietly.
    Failed,
}

/// Takes `file`'s exclusive lock, trying until `deadline` has passed, with
/// pauses growing from 1 ms to [`LOCK_MAX_PAUSE`]: most waits are for a
/// probe of a few milliseconds.
fn lock_by(file: &File, deadline: Duration) -> Locked {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match file.try_lock() {
            Ok(()) => return Locked::Yes,
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(_)) => return Locked::Failed,
        }
        let Some(left) = deadline
            .checked_sub(start.elapsed())
            .filter(|left| !left.is_zero())
        else {
            return Locked::GaveUp;
        };
        std::thread::sleep(pause.min(left));
        pause = (pause * 2).min(LOCK_MAX_PAUSE);
    }
}

/// The identity of a file for cache keys: path, device, inode, size and
/// mtime in nanoseconds. A rewritten, replaced or touched file has a new one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileIdentity {
    /// The path as the caller names it (the compiler's: as it is run).
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

/// The value of the entry at `path` if it holds exactly `key_text` (the
/// key as [`write_entry`] serialised it). The key is compared as text, not
/// parsed: the shim reads entries on every call, and serde_json writes a
/// key the same way every time (a different text is a miss, rewritten).
fn read_entry<T: for<'de> Deserialize<'de>>(path: &Path, key_text: &str) -> Option<T> {
    use std::io::Read;
    let mut file = File::open(path).ok()?;
    let metadata = file.metadata().ok()?;
    if metadata.uid() != effective_uid() {
        return None;
    }
    // Exactly the length `fstat` gave, in one read: entries are renamed
    // into place whole, never written in place (a file that changed size
    // anyway fails the checks below and is a miss).
    let mut bytes = vec![0; usize::try_from(metadata.len()).ok()?];
    file.read_exact(&mut bytes).ok()?;
    let value = bytes
        .strip_prefix(entry_prefix(key_text).as_bytes())?
        .strip_suffix(b"}\n")?;
    serde_json::from_slice(value).ok()
}

/// How an entry starts, up to its value: [`Entry`] as serde_json writes it.
fn entry_prefix(key_text: &str) -> String {
    format!("{{\"format\":{ENTRY_FORMAT},\"key\":{key_text},\"value\":")
}

/// Writes the entry for `key_text` atomically: [`Entry`]'s layout, the
/// key's text as [`read_entry`] will compare it.
fn write_entry<T: Serialize>(path: &Path, key_text: &str, value: &T) -> std::io::Result<()> {
    crate::atomic::write_atomic(path, |file| {
        let mut writer = std::io::BufWriter::new(file);
        writer.write_all(entry_prefix(key_text).as_bytes())?;
        serde_json::to_writer(&mut writer, value).map_err(std::io::Error::other)?;
        writer.write_all(b"}\n")?;
        writer.flush()
    })
}

fn short_hash(text: &str) -> String {
    use std::hash::Hasher as _;
    let mut hasher = siphasher::sip128::SipHasher13::new();
    hasher.write(text.as_bytes());
    hex(&siphasher::sip128::Hasher128::finish128(&hasher).as_bytes()[..12])
}

/// `bytes` in lowercase hex, without a `format!` per byte: the one hex
/// encoder of cache names, fingerprints, markers and the log's index.
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|byte| [HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 15)]])
        .map(char::from)
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
        let key_value = serde_json::json!({"compiler": "/usr/bin/gcc", "flags": ["-fx"]});
        let key = key_value.to_string();
        write_entry(&path, &key, &true).unwrap();
        assert_eq!(read_entry::<bool>(&path, &key), Some(true));
        // What is written is an `Entry`, as `cache show` lists it.
        let written: Entry<serde_json::Value, bool> =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(
            (written.format, &written.key, written.value),
            (ENTRY_FORMAT, &key_value, true)
        );
        // A different key hashed to the same name is a miss.
        let other = serde_json::json!({"compiler": "/usr/bin/gcc", "flags": ["-fy"]});
        assert_eq!(read_entry::<bool>(&path, &other.to_string()), None);
        // So is an entry of another format.
        let old = serde_json::json!({"format": 1, "key": key_value, "value": true});
        std::fs::write(&path, format!("{old}\n")).unwrap();
        assert_eq!(read_entry::<bool>(&path, &key), None);
        // And a value that does not parse as the type asked for.
        write_entry(&path, &key, &"text").unwrap();
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
        assert_eq!(cache.lock_given_up(), None);
    }

    #[test]
    fn a_held_lock_is_given_up_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::open(dir.path().join("cache"))
            .unwrap()
            .with_lock_deadline(Duration::from_millis(30));
        // Another holder: flock is per open file description, so a second
        // open in this process contends like another process.
        let lock = dir
            .path()
            .join("cache")
            .join(format!("probe-{}.lock", short_hash("\"k\"")));
        let holder = File::create(&lock).unwrap();
        holder.lock().unwrap();
        let clone = cache.clone();
        let first: Result<(u32, bool), ()> = clone.get_or_compute("probe", "k", || Ok(7));
        assert_eq!(first, Ok((7, false)));
        // Said by every clone (the plan asks the one the prober holds).
        assert_eq!(cache.lock_given_up(), Some(lock.clone()));
        assert_eq!(
            cache.lock_given_up_message().unwrap(),
            format!(
                "waited 30ms for the cache lock `{}`, computed without it",
                lock.display()
            )
        );
        // The value was stored all the same: the next call reads it.
        let second: Result<(u32, bool), ()> = cache.get_or_compute("probe", "k", || Ok(8));
        assert_eq!(second, Ok((7, true)));
    }

    #[test]
    fn a_directory_others_can_write_or_a_symlink_is_not_used() {
        use std::os::unix::fs::PermissionsExt;
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("cache");
        let fresh = DiskCache::open(dir.clone()).unwrap();
        assert_eq!(
            std::fs::metadata(fresh.dir()).unwrap().permissions().mode() & 0o7777,
            0o700
        );
        for mode in [0o777, 0o1777, 0o703] {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
            assert!(DiskCache::open(dir.clone()).is_none(), "mode {mode:o}");
        }
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(DiskCache::open(dir.clone()).is_some());
        let link = temp.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        assert!(DiskCache::open(link).is_none());
    }
}
