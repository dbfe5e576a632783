//! The Tessera portal: the vendor's service that hubs activate with and ping.
//!
//! Where things are: a hub's activation and ping are judged in [`hub`]; pings are stored in
//! one group commit by [`pings`] into the [`store`]; vendor staff use [`admin`] with
//! [`apikeys`]; every error answer is built in [`error`]; [`app`] wires routes, readiness
//! and serving; settings come from [`config`].
#![forbid(unsafe_code)]

pub mod admin;
pub mod apikeys;
pub mod app;
pub mod config;
pub mod error;
pub mod extract;
pub mod hub;
pub mod limits;
pub mod metrics;
pub mod pings;
pub mod store;
