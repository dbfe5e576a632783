//! What the portal loads from files when it starts: its receipt key (made on first start),
//! the vendor's trust set and the vendor's delegation of the receipt key. A missing or bad
//! trust set or delegation is noted, not fatal: the portal starts, says what is missing
//! (log, `/readyz`) and answers hubs 503 until it is fixed.

use std::path::{Path, PathBuf};

use tessera_core::UnixTime;
use tessera_core::armor::MAX_ARMORED_LEN;
use tessera_core::delegation::Delegation;
use tessera_core::fsutil::{WriteOptions, read_capped, write_atomic};
use tessera_core::keyfile;
use tessera_core::keys::SigningKey;
use tessera_core::trust::{MAX_TRUST_FILE_LEN, TrustSet};

/// File names in the data directory.
pub const RECEIPT_KEY_FILE: &str = "receipt.key";
/// See [`RECEIPT_KEY_FILE`].
pub const RECEIPT_PUB_FILE: &str = "receipt.pub";

/// Why the receipt key could not be loaded or made.
#[derive(Debug, thiserror::Error)]
#[error("receipt key {}: {message}", path.display())]
pub struct ReceiptKeyError {
    /// The key file.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// The delegation the portal serves, as loaded at start.
pub struct LoadedDelegation {
    /// The armored text, sent to hubs with every receipt.
    pub text: String,
    /// The delegation, verified.
    pub delegation: Delegation,
}

/// Makes the data directory (receipt key, SQLite files) if needed, readable by the portal's
/// user only (0700).
pub fn private_data_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// The key that tags the audit ledger's entries: read from `file` (64 hex digits; several
/// instances of one portal on one database share it), else derived from the receipt key.
pub fn ledger_tag_key(
    file: Option<&Path>,
    receipt_key: &SigningKey,
) -> Result<tessera_core::ledger::EntryTagKey, ReceiptKeyError> {
    use tessera_core::ledger::EntryTagKey;
    let Some(path) = file else { return Ok(EntryTagKey::derive(receipt_key)) };
    let fail = |message: &str| ReceiptKeyError { path: path.to_owned(), message: message.into() };
    let bytes = read_capped(path, 1024).map_err(|e| fail(&e.to_string()))?;
    let text = zeroize::Zeroizing::new(String::from_utf8_lossy(&bytes).trim().to_owned());
    let mut key = [0u8; 32];
    hex::decode_to_slice(text.as_bytes(), &mut key)
        .map_err(|_| fail("the ledger tag key file must hold 64 hex digits"))?;
    Ok(EntryTagKey::from_bytes(key))
}

/// Loads the receipt key from the data directory, making one on first start.
pub fn load_or_create_receipt_key(data_dir: &Path) -> Result<SigningKey, ReceiptKeyError> {
    let path = data_dir.join(RECEIPT_KEY_FILE);
    let fail = |message: String| ReceiptKeyError { path: path.clone(), message };
    // Unattended service: the key is plain, protected by mode 0600 and the data directory.
    let (key, made) = keyfile::load_or_create_plain(&path).map_err(|e| fail(e.to_string()))?;
    if made {
        let public = data_dir.join(RECEIPT_PUB_FILE);
        write_atomic(&public, keyfile::public(&key).as_bytes(), WriteOptions::SECRET_REPLACE)
            .map_err(|e| fail(e.to_string()))?;
        tracing::info!(key_id = %key.key_id(), path = %path.display(), "made a new receipt key");
    }
    Ok(key)
}

/// The systemd credential names the portal reads (`LoadCredential=` or
/// `LoadCredentialEncrypted=`, found in `$CREDENTIALS_DIRECTORY`).
pub const RECEIPT_KEY_CREDENTIAL: &str = "tessera-receipt-key";
/// The credential holding an encrypted receipt key's passphrase.
pub const RECEIPT_PASSPHRASE_CREDENTIAL: &str = "tessera-receipt-key-passphrase";

/// Where the receipt key comes from, first found wins: the systemd credential
/// `tessera-receipt-key`; the `receipt_key_file` setting (a plain or passphrase-encrypted key
/// file, as `tessera keygen` writes); else `receipt.key` in the data directory, made on first
/// start. An encrypted key's passphrase comes from the credential
/// `tessera-receipt-key-passphrase`, the file `receipt_key_passphrase_file`, or the
/// environment variable `TESSERA_RECEIPT_KEY_PASSPHRASE`, in that order.
pub fn receipt_key(
    data_dir: &Path,
    key_file: Option<&Path>,
    passphrase_file: Option<&Path>,
) -> Result<SigningKey, ReceiptKeyError> {
    let credentials = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
    let credential = credentials
        .as_ref()
        .map(|dir| dir.join(RECEIPT_KEY_CREDENTIAL))
        .filter(|path| path.exists());
    let Some(path) = credential.or_else(|| key_file.map(Path::to_owned)) else {
        return load_or_create_receipt_key(data_dir);
    };
    let fail = |message: String| ReceiptKeyError { path: path.clone(), message };
    let bytes = read_capped(&path, keyfile::MAX_KEY_FILE_LEN).map_err(|e| fail(e.to_string()))?;
    let file = keyfile::KeyFile::parse(&bytes).map_err(|e| fail(e.to_string()))?;
    let passphrase = || {
        let from_credential = credentials
            .as_ref()
            .map(|dir| dir.join(RECEIPT_PASSPHRASE_CREDENTIAL))
            .filter(|path| path.exists());
        let text = match from_credential.as_deref().or(passphrase_file) {
            Some(source) => std::fs::read_to_string(source)
                .map_err(|_| keyfile::KeyFileError::EmptyPassphrase)?
                .trim_end_matches(['\r', '\n'])
                .to_owned(),
            None => std::env::var("TESSERA_RECEIPT_KEY_PASSPHRASE").unwrap_or_default(),
        };
        if text.is_empty() {
            return Err(keyfile::KeyFileError::EmptyPassphrase);
        }
        Ok(keyfile::Passphrase::new(text))
    };
    let key = file.unlock(passphrase).map_err(|e| match e {
        keyfile::KeyFileError::EmptyPassphrase => fail(
            "the key file is encrypted: give its passphrase (receipt_key_passphrase_file, the \
             tessera-receipt-key-passphrase credential or TESSERA_RECEIPT_KEY_PASSPHRASE)"
                .to_owned(),
        ),
        other => fail(other.to_string()),
    })?;
    tracing::info!(key_id = %key.key_id(), path = %path.display(), "receipt key read");
    Ok(key)
}

/// Loads the vendor's trust files into one set; a problem goes into `problems`.
pub fn load_trust(paths: &[PathBuf], problems: &mut Vec<String>) -> Option<TrustSet> {
    if paths.is_empty() {
        problems.push(
            "no trust set: give --trust VENDOR.pub (the vendor's public signing keys)".to_owned(),
        );
        return None;
    }
    let mut trust = TrustSet::new();
    for path in paths {
        let loaded = read_capped(path, MAX_TRUST_FILE_LEN)
            .map_err(|e| e.to_string())
            .and_then(|bytes| TrustSet::parse(&bytes).map_err(|e| e.to_string()))
            .and_then(|set| trust.extend(set).map_err(|e| e.to_string()));
        if let Err(e) = loaded {
            problems.push(format!("trust file {}: {e}", path.display()));
            return None;
        }
    }
    Some(trust)
}

/// Loads the delegation at `path` and checks that the trust set certifies this portal's
/// receipt key with it; a problem goes into `problems`.
pub fn load_delegation(
    path: Option<&Path>,
    trust: Option<&TrustSet>,
    receipt_key: &SigningKey,
    now: UnixTime,
    data_dir: &Path,
    problems: &mut Vec<String>,
) -> Option<LoadedDelegation> {
    let how = format!(
        "make one with `tessera delegate --key VENDOR/signing.key --portal-key {} --out delegation.txt` and give --delegation delegation.txt",
        data_dir.join(RECEIPT_PUB_FILE).display()
    );
    let Some(path) = path else {
        problems.push(format!("no delegation of the receipt key {}: {how}", receipt_key.key_id()));
        return None;
    };
    let trust = trust?;
    let loaded = read_capped(path, MAX_ARMORED_LEN).map_err(|e| e.to_string()).and_then(|bytes| {
        let text = String::from_utf8(bytes).map_err(|_| "not text".to_owned())?;
        let delegation =
            Delegation::verify(text.as_bytes(), trust, now).map_err(|e| e.to_string())?;
        Ok(LoadedDelegation { text, delegation })
    });
    match loaded {
        Err(e) => {
            problems.push(format!("delegation {}: {e}", path.display()));
            None
        }
        Ok(loaded) if loaded.delegation.claims.portal_key != *receipt_key.public_key() => {
            problems.push(format!(
                "delegation {} certifies key {}, not this portal's receipt key {}: {how}",
                path.display(),
                loaded.delegation.claims.portal_key.key_id(),
                receipt_key.key_id()
            ));
            None
        }
        Ok(loaded) => Some(loaded),
    }
}

/// Loads the vendor's ledger delegation of the receipt key (`tessera delegate --ledger`), which
/// lets the portal sign its audit ledger's heads. Without one (or with one that does not
/// certify this key) the ledger is kept and chained but its heads are not signed: said in the
/// log at start.
pub fn load_ledger_delegation(
    path: Option<&Path>,
    trust: Option<&TrustSet>,
    receipt_key: &SigningKey,
    now: UnixTime,
) -> Option<String> {
    let warn = |why: String| {
        tracing::warn!(%why, "the audit ledger's heads are not signed until this is fixed");
        None
    };
    let Some(path) = path else {
        return warn(format!(
            "no ledger delegation: make one with `tessera delegate --ledger … --portal-key` for key {} and give --ledger-delegation",
            receipt_key.key_id()
        ));
    };
    let trust = trust?;
    let loaded = read_capped(path, MAX_ARMORED_LEN).map_err(|e| e.to_string()).and_then(|bytes| {
        let text = String::from_utf8(bytes).map_err(|_| "not text".to_owned())?;
        let delegation = Delegation::verify_for(
            tessera_core::delegation::Purpose::Ledger,
            text.as_bytes(),
            trust,
            now,
        )
        .map_err(|e| e.to_string())?;
        Ok((text, delegation))
    });
    match loaded {
        Err(e) => warn(format!("ledger delegation {}: {e}", path.display())),
        Ok((_, delegation)) if delegation.claims.portal_key != *receipt_key.public_key() => {
            warn(format!(
                "ledger delegation {} certifies another key than the receipt key",
                path.display()
            ))
        }
        Ok((text, _)) => Some(text),
    }
}
