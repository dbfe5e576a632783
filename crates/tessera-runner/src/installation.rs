//! What a runner was installed with: its keystore, the user whose keystore it is, and the id
//! of its cache key, in `keystore.json` in the state directory (no secret). Every later call
//! uses that keystore whatever its environment (a D-Bus session or none), and when it cannot
//! find the key it says why (another keystore asked for, another user, another key) instead
//! of answering a status that blames the license.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tessera_core::fsutil::{WriteOptions, read_capped, write_atomic};

use crate::keystore::Backend;

/// The record's file name in the state directory.
pub const FILE: &str = "keystore.json";

/// The record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Installation {
    /// The keystore's name (`keyutils`, `secret-service`, `systemd-creds`).
    pub keystore: String,
    /// The user who installed: the kernel keyring and the Secret Service are theirs.
    pub uid: u32,
    /// 16 hex digits of SHA-256 of the cache key (with a context): tells a replaced key from
    /// a changed cache file. Reveals nothing of the key.
    pub key_id: String,
}

/// Why the recorded installation and this call do not fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Misfit {
    /// The runner was installed with another keystore than the one asked for.
    #[error(
        "this runner was installed with the {installed} keystore, not {asked}: leave out \
         --keystore (and TESSERA_RUNNER_KEYSTORE), or move it (`uninstall`, then `install \
         --keystore {asked}`)"
    )]
    OtherKeystore {
        /// The keystore recorded at install.
        installed: String,
        /// The keystore asked for now.
        asked: String,
    },
    /// The runner was installed by another user, whose keystore this process cannot see.
    #[error(
        "this runner's key is in the {keystore} keystore of uid {installed} (with \
         systemd-creds, its generation is in that uid's kernel keyring), which uid {this} \
         cannot see: run it as uid {installed} (`runuser -u USER --`, systemd `User=`)"
    )]
    OtherUser {
        /// The keystore recorded at install.
        keystore: String,
        /// The uid that installed the runner.
        installed: u32,
        /// The uid of this process.
        this: u32,
    },
    /// The keystore holds another key than the one recorded at install.
    #[error(
        "the key in the {keystore} keystore is not the one this runner was installed with \
         (key {found}, installed {installed}): a refresh was interrupted after a lost key \
         (run `tessera-runner refresh --trust FILE` again), another installation wrote it, \
         or the credential was replaced and this unit still has the old one (restart it)"
    )]
    OtherKey {
        /// The keystore recorded at install.
        keystore: String,
        /// The id of the key found in it.
        found: String,
        /// The id of the key recorded at install.
        installed: String,
    },
    /// The installation record could not be read.
    #[error("{path}: {problem}")]
    Unreadable {
        /// The record's file.
        path: PathBuf,
        /// Why it could not be read.
        problem: String,
    },
}

/// The id of a cache key.
pub fn key_id(key: &[u8; 32]) -> String {
    let mut hash = Sha256::new();
    hash.update(b"tessera runner key id\0");
    hash.update(key);
    hex::encode(&hash.finalize()[..8])
}

/// The effective user id of this process.
pub fn this_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// The record of the runner in `dir`, if it was installed.
pub fn read(dir: &Path) -> Result<Option<Installation>, Misfit> {
    let path = dir.join(FILE);
    let unreadable = |problem: String| Misfit::Unreadable { path: path.clone(), problem };
    // A FIFO in its place would make every check wait for a writer forever.
    if std::fs::metadata(&path).is_ok_and(|m| !m.is_file()) {
        return Err(unreadable("not a regular file: reinstall the runner".into()));
    }
    match read_capped(&path, 4096) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| unreadable(format!("not a keystore record ({e}): reinstall the runner"))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(unreadable(e.to_string())),
    }
}

/// Writes the record (0600, atomically), unless it already says the same.
pub fn write(dir: &Path, record: &Installation) -> io::Result<()> {
    if matches!(read(dir), Ok(Some(ref old)) if old == record) {
        return Ok(());
    }
    let bytes = serde_json::to_vec(record).map_err(io::Error::other)?;
    write_atomic(&dir.join(FILE), &bytes, WriteOptions::SECRET_REPLACE)
}

/// The keystore to use for the runner in `dir`: the one it was installed with; `asked` (the
/// caller's choice) must be the same. Not installed: `asked`, else the session's default.
pub fn backend_for(dir: &Path, asked: Option<Backend>) -> Result<Backend, Misfit> {
    let Some(record) = read(dir)? else {
        return Ok(asked.unwrap_or_else(Backend::default_for_this_session));
    };
    let installed: Backend = record
        .keystore
        .parse()
        .map_err(|e: String| Misfit::Unreadable { path: dir.join(FILE), problem: e })?;
    match asked {
        Some(asked) if asked != installed => Err(Misfit::OtherKeystore {
            installed: installed.name().to_owned(),
            asked: asked.name().to_owned(),
        }),
        _ => Ok(installed),
    }
}
