//! The Tessera portal: the vendor's service that hubs activate with and ping.
//!
//! In layers, each calling only the ones below it:
//! - [`http`]: routes, extractors, the one error map, and the handlers — where a hub's
//!   activation and ping are answered ([`http::hub_api`]), where vendor staff call the
//!   admin API ([`http::admin_api`]) and where people sign in and use the web pages
//!   ([`http::ui`]);
//! - [`domain`]: the rules — who may do what ([`domain::authorization`]), registering,
//!   a license's standing, the binding and rebinding rules, the clock check, people and
//!   sessions, license actions, API keys, and the ping path that authenticates pings in
//!   rounds and has them stored;
//! - [`store`]: every SQL statement, SQLite or PostgreSQL — where a ping is stored.
//!
//! Beside them: [`app`] (the shared state made at start), [`startup`] (the receipt key,
//! trust set and delegation read from files), [`config`] (settings), [`limits`] (rate
//! limits), [`mail`] (invitation emails), [`backup`] (encrypted backups) and [`metrics`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod backup;
pub mod cli_signing;
pub mod config;
pub mod domain;
pub mod http;
pub mod limits;
pub mod mail;
pub mod metrics;
pub mod startup;
pub mod store;
