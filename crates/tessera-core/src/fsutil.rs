//! Writing files so that a crash never leaves half of one: write to a temporary file in the
//! same directory, fsync, rename over the target, fsync the directory.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// How a file is written.
#[derive(Debug, Clone, Copy)]
pub struct WriteOptions {
    /// Unix permission bits, e.g. `0o600` for secrets.
    pub mode: u32,
    /// Replace an existing file; otherwise an existing file is an `AlreadyExists` error.
    pub overwrite: bool,
}

impl WriteOptions {
    /// Secret material: 0600 and never replacing what is there.
    pub const SECRET_NEW: WriteOptions = WriteOptions { mode: 0o600, overwrite: false };
    /// State that is replaced as a whole: 0600, atomically replacing the old file.
    pub const SECRET_REPLACE: WriteOptions = WriteOptions { mode: 0o600, overwrite: true };
    /// Public material (licenses, public keys) that must not clobber an existing file.
    pub const PUBLIC_NEW: WriteOptions = WriteOptions { mode: 0o644, overwrite: false };
}

/// Writes `bytes` to `path` atomically and durably: readers see either the old file or the
/// whole new one, never a part.
pub fn write_atomic(path: &Path, bytes: &[u8], options: WriteOptions) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !options.overwrite && path.exists() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} already exists", path.display()),
        ));
    }
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX).suffix(TEMP_SUFFIX);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(options.mode));
    }
    let mut temp = builder.tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    if options.overwrite {
        temp.persist(path).map_err(|e| e.error)?;
    } else {
        temp.persist_noclobber(path).map_err(|e| e.error)?;
    }
    sync_dir(dir)
}

const TEMP_PREFIX: &str = ".tessera-";
const TEMP_SUFFIX: &str = ".tmp";

/// How old a temporary file of [`write_atomic`] must be to count as left behind by a process
/// that died mid-write: far older than any write in progress (milliseconds), so a running
/// writer's file is never taken.
pub const STALE_TEMP_AGE: Duration = Duration::from_secs(600);

/// Removes the temporary files [`write_atomic`] leaves in `dir` when its process dies between
/// creating and renaming one (`.tessera-*.tmp`), those last modified more than
/// [`STALE_TEMP_AGE`] before `now` (the file system's clock). Best effort: returns how many
/// went; anything it cannot read or remove stays.
pub fn remove_stale_temp_files(dir: &Path, now: SystemTime) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !(name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX)) {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        let old = meta
            .modified()
            .ok()
            .and_then(|at| now.duration_since(at).ok())
            .is_some_and(|age| age > STALE_TEMP_AGE);
        if meta.is_file() && old && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Makes a rename in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Reads at most `cap` bytes of `path`; a longer file is an `InvalidData` error that says so,
/// so that a huge or endless file (`/dev/zero`) is refused without reading it all.
pub fn read_capped(path: &Path, cap: usize) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let file = File::open(path)?;
    let mut bytes = Vec::new();
    file.take(cap as u64 + 1).read_to_end(&mut bytes)?;
    if bytes.len() > cap {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is larger than {cap} bytes", path.display()),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_old_temporary_files_of_write_atomic_are_removed() {
        let dir = tempfile::tempdir().expect("dir");
        let now = SystemTime::now();
        let make = |name: &str, age: u64| {
            let path = dir.path().join(name);
            let file = File::create(&path).expect("create");
            file.set_modified(now - Duration::from_secs(age)).expect("mtime");
            path
        };
        let old = make(".tessera-abc123.tmp", 3600);
        let fresh = make(".tessera-def456.tmp", 5);
        let other = make("state.json", 3600);
        let foreign = make(".other-abc.tmp", 3600);
        assert_eq!(remove_stale_temp_files(dir.path(), now), 1);
        assert!(!old.exists(), "a leftover from an hour ago stays");
        assert!(fresh.exists() && other.exists() && foreign.exists());
        assert_eq!(remove_stale_temp_files(&dir.path().join("missing"), now), 0);
    }

    #[test]
    fn secret_files_are_0600_and_never_clobbered() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k");
        write_atomic(&path, b"one", WriteOptions::SECRET_NEW).expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let err = write_atomic(&path, b"two", WriteOptions::SECRET_NEW).expect_err("exists");
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).expect("read"), b"one");
        write_atomic(&path, b"three", WriteOptions::SECRET_REPLACE).expect("replace");
        assert_eq!(std::fs::read(&path).expect("read"), b"three");
        let leftovers = std::fs::read_dir(dir.path()).expect("ls").count();
        assert_eq!(leftovers, 1, "no temporary files left behind");
    }

    #[test]
    fn reading_is_capped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big");
        std::fs::write(&path, vec![b'x'; 11]).expect("write");
        assert_eq!(read_capped(&path, 11).expect("fits").len(), 11);
        let err = read_capped(&path, 10).expect_err("too big");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
