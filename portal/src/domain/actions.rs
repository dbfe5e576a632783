//! What is done to a license, for the admin API and the web pages alike: suspend,
//! reinstate, revoke (final), reset the binding. Who may is asked of
//! [`authorization::may`] first ([`act`]).

use tessera_core::UnixTime;
use tessera_core::keys::KeyId;

use crate::domain::audit::{self, Actor};
use crate::domain::authorization::{self, Caller, Denied, Operation};
use crate::domain::licenses::{facts, find};
use crate::store::{LicenseState, Store, StoreError};

/// An action on a license.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Stop the license until reinstated.
    Suspend,
    /// Undo a suspension.
    Reinstate,
    /// End the license for good.
    Revoke,
    /// Unbind the license from its host, so another host can activate it.
    ResetBinding,
}

impl Action {
    /// The word in URLs and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Suspend => "suspend",
            Action::Reinstate => "reinstate",
            Action::Revoke => "revoke",
            Action::ResetBinding => "reset-binding",
        }
    }

    /// The action a word names (as the API and the pages spell it).
    pub fn parse(word: &str) -> Option<Action> {
        [Action::Suspend, Action::Reinstate, Action::Revoke, Action::ResetBinding]
            .into_iter()
            .find(|a| a.as_str() == word)
    }
}

/// Why an action was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ActionError {
    /// No license with this id is registered.
    #[error("no license {0:?} is registered")]
    UnknownLicense(String),
    /// A revoked license cannot change state.
    #[error("a revoked license stays revoked")]
    Revoked,
    /// A customer's own reset came too soon after their last one.
    #[error(
        "the binding of this license was reset on {last}; the next reset is possible from {next}"
    )]
    TooSoon {
        /// The last reset.
        last: UnixTime,
        /// The first time the next one is allowed.
        next: UnixTime,
    },
    /// The caller may not (see [`authorization::may`]).
    #[error(transparent)]
    Denied(Denied),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an action did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// The license is now in this state.
    State(LicenseState),
    /// The binding was reset (false: there was none).
    Reset(bool),
}

/// Does `action` to license `id` at `now` for `caller` (named `actor` in the ledger), if
/// they may: the vendor's changes take effect at once; an organization's reset of its own
/// binding at most once per `customer_every_secs` ([`customer_reset`]). With `admit`, a
/// reset admits only the hub of that key id (the vendor's alone). A license the caller may
/// not see is unknown.
pub async fn act(
    store: &Store,
    caller: &Caller<'_>,
    actor: &Actor,
    id: &str,
    (action, admit): (Action, Option<KeyId>),
    customer_every_secs: i64,
    now: UnixTime,
) -> Result<Done, ActionError> {
    let found = find(store, id).await?;
    let operation =
        if admit.is_some() { Operation::ResetBindingFor } else { Operation::Change(action) };
    match authorization::may(caller, operation, facts(found.as_ref())) {
        Ok(()) => {}
        Err(Denied::Unknown) => return Err(ActionError::UnknownLicense(id.to_owned())),
        Err(denied) => return Err(ActionError::Denied(denied)),
    }
    match action {
        Action::ResetBinding if caller.is_vendor() => reset(store, actor, id, admit, now).await,
        Action::ResetBinding => customer_reset(store, actor, id, customer_every_secs, now).await,
        _ => apply(store, actor, id, action, now).await,
    }
}

/// Does `action` to license `id` at `now`, unasked (the vendor's tools: see [`act`]).
pub async fn apply(
    store: &Store,
    actor: &Actor,
    id: &str,
    action: Action,
    now: UnixTime,
) -> Result<Done, ActionError> {
    let license =
        store.license(id).await?.ok_or_else(|| ActionError::UnknownLicense(id.to_owned()))?;
    let org = store.license_organization(id).await?;
    let to = match action {
        Action::ResetBinding => return reset(store, actor, id, None, now).await,
        Action::Suspend => LicenseState::Suspended,
        Action::Reinstate => LicenseState::Active,
        Action::Revoke => LicenseState::Revoked,
    };
    if license.state == LicenseState::Revoked && to != LicenseState::Revoked {
        return Err(ActionError::Revoked);
    }
    store.set_state(id, to, now).await?;
    let word = match to {
        LicenseState::Active => "license.reinstated",
        LicenseState::Suspended => "license.suspended",
        LicenseState::Revoked => "license.revoked",
    };
    audit::record(store, actor, word, id, org.as_deref(), now).await?;
    Ok(Done::State(to))
}

/// The vendor's reset of license `id`'s binding at `now`, admitting any hub, or only the hub
/// whose key id is `admit` (a stranger holding the license file can then neither bind it
/// nor spend its activation allowance). The ledger's target names the admitted key.
pub async fn reset(
    store: &Store,
    actor: &Actor,
    id: &str,
    admit: Option<KeyId>,
    now: UnixTime,
) -> Result<Done, ActionError> {
    store.license(id).await?.ok_or_else(|| ActionError::UnknownLicense(id.to_owned()))?;
    let org = store.license_organization(id).await?;
    let admit = admit.map(|key| key.to_string());
    let reset = store.reset_binding(id, admit.as_deref()).await?;
    let target = match &admit {
        Some(key) => format!("{id} hub_key:{key}"),
        None => id.to_owned(),
    };
    audit::record(store, actor, "license.binding_reset", &target, org.as_deref(), now).await?;
    Ok(Done::Reset(reset))
}

/// A customer's own reset of a binding (moving their hub to a new machine): at most one per
/// `every_secs` for each license, so that self-service cannot alternate two running copies
/// of a hub — the same reason the hub protocol limits re-activations.
pub async fn customer_reset(
    store: &Store,
    actor: &Actor,
    id: &str,
    every_secs: i64,
    now: UnixTime,
) -> Result<Done, ActionError> {
    store.license(id).await?.ok_or_else(|| ActionError::UnknownLicense(id.to_owned()))?;
    // Allowed when the last one was at least `every_secs` ago.
    let last_by = now.as_unix().saturating_sub(every_secs);
    match store.customer_reset_binding(id, last_by, now).await? {
        Ok(reset) => {
            let org = store.license_organization(id).await?;
            let word = "license.binding_reset_by_customer";
            audit::record(store, actor, word, id, org.as_deref(), now).await?;
            Ok(Done::Reset(reset))
        }
        Err(last) => {
            let at = |t: i64| UnixTime::from_unix(t).unwrap_or(now);
            Err(ActionError::TooSoon { last: at(last), next: at(last.saturating_add(every_secs)) })
        }
    }
}
