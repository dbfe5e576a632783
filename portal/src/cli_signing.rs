//! Signing the audit ledger after a change made at the portal machine's command line
//! (`tessera-portal user …`, `org create`, `api-key …`): the change is signed when it is
//! made, not at the running portal's next minute or next start, under the rules the running
//! portal follows (the ledger delegation covers now; the stored tree extends the checkpoint
//! in the witness file) and with the same witnesses.

use tessera_core::UnixTime;

use crate::config::Settings;
use crate::domain::ledger_signing::{Signer, Signing, sign_checkpoint};
use crate::startup;
use crate::store::{Store, StoreError};

/// Why a change made at the command line was not signed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliSigningError {
    /// The receipt key could not be read.
    #[error(transparent)]
    Key(#[from] startup::ReceiptKeyError),
    /// A witness setting is not usable.
    #[error(transparent)]
    Witness(#[from] crate::domain::witnesses::WitnessSettingError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The ledger has signed checkpoints and this command cannot read the receipt key: an
    /// entry it wrote would carry no tag, and the portal would refuse to sign it.
    #[error(
        "this change would be recorded in the audit ledger without the portal's tag, and the portal would then refuse to sign the ledger: the receipt key is not readable here (run the command as the portal's user, with its receipt_key_file setting or its systemd credentials: docs/OPERATIONS.md)"
    )]
    NoKeyToTag,
}

/// Whether this command can read the portal's receipt key: configured, given by systemd, or
/// made in the data directory by a portal that has run.
fn has_key(settings: &Settings) -> bool {
    settings.receipt_key_file.is_some()
        || std::env::var_os("CREDENTIALS_DIRECTORY").is_some()
        || settings.data_dir.join(startup::RECEIPT_KEY_FILE).exists()
}

/// The store a command that changes something uses: its ledger entries tagged as the
/// running portal tags its own. A command that holds no receipt key may still record changes
/// before the ledger's first checkpoint (setting up, before the portal ever started); after
/// it, such a change is refused before it is made.
pub fn store_for_changes(settings: &Settings, store: Store) -> Result<Store, CliSigningError> {
    if has_key(settings) {
        let key = startup::receipt_key(
            &settings.data_dir,
            settings.receipt_key_file.as_deref(),
            settings.receipt_key_passphrase_file.as_deref(),
        )?;
        let tags = startup::ledger_tag_key(settings.ledger_tag_key_file.as_deref(), &key)?;
        return Ok(store.with_entry_tags(tags));
    }
    if settings.data_dir.join(crate::app::LEDGER_WITNESS_FILE).exists() {
        return Err(CliSigningError::NoKeyToTag);
    }
    Ok(store)
}

/// Signs a checkpoint covering the changes just made, when the portal has a receipt key
/// (the command line never makes one: `Ok(None)`) and a ledger delegation of it.
pub async fn sign_after_change(
    settings: &Settings,
    store: &Store,
    now: UnixTime,
) -> Result<Option<Signing>, CliSigningError> {
    if !has_key(settings) {
        return Ok(None);
    }
    let key = startup::receipt_key(
        &settings.data_dir,
        settings.receipt_key_file.as_deref(),
        settings.receipt_key_passphrase_file.as_deref(),
    )?;
    let mut problems = Vec::new();
    let trust = startup::load_trust(&settings.trust, &mut problems);
    let delegation = startup::load_ledger_delegation(
        settings.ledger_delegation.as_deref(),
        trust.as_ref(),
        &key,
        now,
    );
    let witnesses = crate::app::witnesses(settings, Default::default())?;
    let witness = settings.data_dir.join(crate::app::LEDGER_WITNESS_FILE);
    let signer = Signer {
        key: &key,
        delegation: delegation.as_deref(),
        name: settings.ledger_name.as_deref(),
        witness: &witness,
        witnesses: &witnesses,
        check_all: false,
    };
    Ok(Some(sign_checkpoint(store, &signer, now).await?))
}
