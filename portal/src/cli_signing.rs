//! Signing the audit ledger after a change made at the portal machine's command line
//! (`tessera-portal user …`, `org create`, `api-key …`): the change is signed when it is
//! made, not at the running portal's next minute or next start, under the rules the running
//! portal follows (the ledger delegation covers now; the stored tree extends the checkpoint
//! in the witness file) and with the same witnesses.

use tessera_core::UnixTime;

use crate::config::Settings;
use crate::domain::audit::{Signer, Signing, sign_checkpoint};
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
}

/// Signs a checkpoint covering the changes just made, when the portal has a receipt key
/// (the command line never makes one: `Ok(None)`) and a ledger delegation of it.
pub async fn sign_after_change(
    settings: &Settings,
    store: &Store,
    now: UnixTime,
) -> Result<Option<Signing>, CliSigningError> {
    let has_key = settings.receipt_key_file.is_some()
        || std::env::var_os("CREDENTIALS_DIRECTORY").is_some()
        || settings.data_dir.join(startup::RECEIPT_KEY_FILE).exists();
    if !has_key {
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
        witness: &witness,
        witnesses: &witnesses,
        check_all: false,
    };
    Ok(Some(sign_checkpoint(store, &signer, now).await?))
}
