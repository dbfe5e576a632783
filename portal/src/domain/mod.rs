//! The portal's rules, between the HTTP layer and the store: who may do what
//! ([`authorization`]), registering licenses ([`registration`]), a license's standing, the
//! binding and rebinding rules ([`binding`], [`rebinding`]), license actions, the clock
//! check, people (accounts and sessions), API keys, and the ping path that authenticates
//! pings and has them stored. Nothing here knows HTTP; nothing here writes SQL.
//!
//! The layers above name the store's rows and errors through this module (here and in
//! [`licenses`], [`accounts`], [`apikeys`]), never `store` itself.

pub mod accounts;
pub mod actions;
pub mod activation;
pub mod apikeys;
pub mod audit;
pub mod authorization;
pub mod binding;
pub mod clock;
pub mod ledger_proofs;
pub mod ledger_reading;
pub mod ledger_signing;
pub mod licenses;
pub mod pings;
pub mod rebinding;
pub mod registration;
pub mod runner_places;
pub mod standing;
pub mod totp;
pub mod witnesses;

pub use crate::store::ledger::{LedgerQuery, StoredEntry};
pub use crate::store::{Store, StoreError};
