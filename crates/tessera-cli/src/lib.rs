//! The vendor CLI's logic, kept out of the `tessera` binary (which parses arguments and
//! prints) so it can be tested and benchmarked: key pairs and passphrases ([`secrets`]),
//! terms as typed by people ([`terms`]), issuing one license or a batch and registering it
//! ([`issue`], [`batch`]), the portal's admin API ([`portal`]), delegations of the portal's
//! key ([`delegate`]), answers to offline activation requests ([`offline`]), audit ledger
//! exports ([`audit`]), the files commands read ([`files`]), output ([`render`]) and the
//! demo ([`demo`]).
#![forbid(unsafe_code)]

pub mod audit;
pub mod batch;
pub mod delegate;
pub mod demo;
pub mod files;
pub mod issue;
pub mod offline;
pub mod portal;
pub mod render;
pub mod secrets;
pub mod terms;
