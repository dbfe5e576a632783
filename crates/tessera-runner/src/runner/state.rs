//! The state directory's cache with its key, read and written so that every reader sees
//! one whole state: the lock that writers take, the read of the keystore and the file (again
//! when a write moved the generation in between), the write of a new generation.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;

use tessera_core::Status;
use tessera_core::fsutil::{WriteOptions, read_capped, write_atomic};
use tessera_core::keys::fill_random;
use tessera_core::receipt::Nonce;
use zeroize::Zeroizing;

use super::{Runner, RunnerError, io_error};
use crate::cache::{self, Cache, MAX_CACHE_LEN};
use crate::check::Decision;
use crate::installation::{self, Installation, Misfit};
use crate::keystore::{Backend, Secret};

/// How often a read of the cache starts again when a write moved the generation between
/// its two reads (a refresh beside a check).
const OPEN_ATTEMPTS: usize = 20;

/// The cache as found: usable with its key, or the status that stands in for it together
/// with the keystore's secret when one was read (a new cache continues its generations).
pub(super) enum Found {
    Usable(Box<Cache>, Secret),
    Unusable(Decision, Option<Secret>),
}

impl Found {
    pub(super) fn cache(&self) -> Option<&Cache> {
        match self {
            Found::Usable(cache, _) => Some(cache),
            Found::Unusable(..) => None,
        }
    }
}

/// One read of the cache and the keystore: settled, or moved by a write in between.
enum Opened {
    Settled(Found),
    Moving,
}

/// Where a cache's key comes from when it is written.
pub(super) enum KeySource {
    /// The key the keystore holds, continuing its generations.
    Kept(Secret),
    /// A new key, after the generation the keystore held (if any).
    New { after: Option<u64> },
}

/// Holds the state directory's lock while alive.
pub(super) struct Locked {
    _file: File,
}

impl Runner {
    /// Takes the state directory's lock, waiting for it.
    pub(super) fn lock(&self) -> Result<Locked, RunnerError> {
        self.take_lock(true)?
            .ok_or_else(|| RunnerError::Input("the state lock was not taken".into()))
    }

    /// Takes the state directory's lock if no other process holds it.
    pub(super) fn try_lock(&self) -> Result<Option<Locked>, RunnerError> {
        self.take_lock(false)
    }

    fn take_lock(&self, wait: bool) -> Result<Option<Locked>, RunnerError> {
        let path = self.dir.join("cache.lock");
        // 0600 like every file of the state directory, whatever the umask allows.
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| io_error(&path, e))?;
        use rustix::fs::{FlockOperation, flock};
        let operation = if wait {
            FlockOperation::LockExclusive
        } else {
            FlockOperation::NonBlockingLockExclusive
        };
        match flock(&file, operation) {
            Ok(()) => {
                // A crash between writing a temporary file and renaming it leaves it behind.
                tessera_core::fsutil::remove_stale_temp_files(
                    &self.dir,
                    std::time::SystemTime::now(),
                );
                Ok(Some(Locked { _file: file }))
            }
            Err(e) if !wait && e == rustix::io::Errno::WOULDBLOCK => Ok(None),
            Err(e) => Err(io_error(&path, e.into())),
        }
    }

    /// The cache and its key, or the status that stands in for them. A writer (`for_write`)
    /// takes a cache whose key is not the recorded one as unusable, to write over it.
    pub(super) fn open(&self, for_write: bool) -> Result<Found, RunnerError> {
        for _ in 0..OPEN_ATTEMPTS {
            if let Opened::Settled(found) = self.open_once(for_write)? {
                return Ok(found);
            }
        }
        Err(RunnerError::Changing { attempts: OPEN_ATTEMPTS })
    }

    /// One read: the keystore first, then the file. Writers write the file first, then the
    /// keystore, so a file older than the keystore's generation that was read after it is an
    /// older copy put back — unless the keystore moved meanwhile (read again to know).
    fn open_once(&self, for_write: bool) -> Result<Opened, RunnerError> {
        let record = installation::read(&self.dir)?;
        if let Some(record) = &record {
            self.fits(record)?;
        }
        let loaded = self.keystore.load();
        let path = self.cache_path();
        // Not a file (a FIFO, a device, a directory put in its place): opening a FIFO would
        // wait for a writer forever.
        if std::fs::metadata(&path).is_ok_and(|m| !m.is_file()) {
            let decision = Decision::new(Status::Tampered, "the cache is not a regular file");
            return Ok(Opened::Settled(Found::Unusable(decision, loaded.ok().flatten())));
        }
        let bytes = match read_capped(&path, MAX_CACHE_LEN) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Opened::Settled(Found::Unusable(
                    Decision::new(
                        Status::NoLicense,
                        "no license cache: run `tessera-runner install`",
                    ),
                    loaded.ok().flatten(),
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                let decision = Decision::new(Status::Tampered, "the cache file is too large");
                return Ok(Opened::Settled(Found::Unusable(decision, loaded?)));
            }
            Err(e) => return Err(io_error(&path, e)),
        };
        let Some(secret) = loaded? else {
            let reason = format!(
                "{}: run `tessera-runner refresh --trust FILE` (the vendor trust set)",
                self.keystore.missing_key()
            );
            return Ok(Opened::Settled(Found::Unusable(
                Decision::new(Status::NoLicense, reason),
                None,
            )));
        };
        let cache = match cache::open(&bytes, &secret.key) {
            Ok(cache) => cache,
            Err(e) => {
                let found = installation::key_id(&secret.key);
                if let Some(record) = record.filter(|r| r.key_id != found && !for_write) {
                    return Err(Misfit::OtherKey {
                        keystore: record.keystore,
                        found,
                        installed: record.key_id,
                    }
                    .into());
                }
                let decision = Decision::new(Status::Tampered, e.to_string());
                return Ok(Opened::Settled(Found::Unusable(decision, Some(secret))));
            }
        };
        let Some(expected) = secret.generation else {
            // The generation was lost (a credential's, at a reboot): the next write records
            // it again (docs/RUNNER.md: what a rollback can gain then).
            return Ok(Opened::Settled(Found::Usable(Box::new(cache), secret)));
        };
        // One ahead: a write between its file and its keystore (in flight, or interrupted:
        // the next write under the lock completes it).
        if cache.generation == expected || cache.generation == expected + 1 {
            return Ok(Opened::Settled(Found::Usable(Box::new(cache), secret)));
        }
        let again = self.keystore.load()?;
        if again.and_then(|s| s.generation) != Some(expected) {
            return Ok(Opened::Moving);
        }
        let reason = if cache.generation < expected {
            format!(
                "the cache file is generation {}, the keystore expects {expected}: an older copy \
                 was put back (restored from a backup: run `tessera-runner refresh --trust \
                 FILE`)",
                cache.generation
            )
        } else {
            format!(
                "the cache file is generation {}, newer than the keystore's {expected}: it is not \
                 the cache this keystore entry was written with",
                cache.generation
            )
        };
        Ok(Opened::Settled(Found::Unusable(Decision::new(Status::Tampered, reason), Some(secret))))
    }

    /// The recorded installation fits this call: the same keystore, and for a per-user
    /// keystore the same user.
    fn fits(&self, record: &Installation) -> Result<(), Misfit> {
        if record.keystore != self.keystore.backend() {
            return Err(Misfit::OtherKeystore {
                installed: record.keystore.clone(),
                asked: self.keystore.backend().to_owned(),
            });
        }
        let per_user = record.keystore.parse::<Backend>().is_ok_and(Backend::per_user);
        let this = installation::this_uid();
        if per_user && record.uid != this {
            return Err(Misfit::OtherUser {
                keystore: record.keystore.clone(),
                installed: record.uid,
                this,
            });
        }
        Ok(())
    }

    /// The lease this runner holds, to chain its next call to: the cache's, or when the cache
    /// cannot be opened (a reboot cleared its key), the one its file names — otherwise the
    /// hub would take a runner that lost its key for a copy of itself.
    pub(super) fn holds(&self, found: &Found) -> Option<Nonce> {
        match found.cache() {
            Some(cache) => Some(cache.lease.nonce),
            None => read_capped(&self.cache_path(), MAX_CACHE_LEN)
                .ok()
                .and_then(|bytes| cache::unchecked_lease_nonce(&bytes)),
        }
    }

    /// Writes the cache with the next generation. With the kept key: the file, then the
    /// keystore — a crash in between leaves a file one generation ahead, which readers accept
    /// and the next write completes. With a new key: the keystore first (the file it replaces
    /// was unusable anyway), then the file. Call with the lock held. Returns the key.
    pub(super) fn commit(
        &self,
        _lock: &Locked,
        mut cache: Cache,
        source: KeySource,
    ) -> Result<Zeroizing<[u8; 32]>, RunnerError> {
        let path = self.cache_path();
        match source {
            KeySource::Kept(secret) => {
                let generation = secret.generation.unwrap_or(0).max(cache.generation) + 1;
                cache.generation = generation;
                write_atomic(
                    &path,
                    &cache::seal(&cache, &secret.key),
                    WriteOptions::SECRET_REPLACE,
                )
                .map_err(|e| io_error(&path, e))?;
                let secret = Secret { key: secret.key, generation: Some(generation) };
                self.keystore.store(&secret)?;
                Ok(secret.key)
            }
            KeySource::New { after } => {
                let mut key = Zeroizing::new([0u8; 32]);
                fill_random(&mut key[..]).map_err(|e| RunnerError::Input(e.to_string()))?;
                let generation = after.unwrap_or(0).max(cache.generation) + 1;
                cache.generation = generation;
                let secret = Secret { key, generation: Some(generation) };
                self.keystore.store(&secret)?;
                write_atomic(
                    &path,
                    &cache::seal(&cache, &secret.key),
                    WriteOptions::SECRET_REPLACE,
                )
                .map_err(|e| io_error(&path, e))?;
                Ok(secret.key)
            }
        }
    }
}
