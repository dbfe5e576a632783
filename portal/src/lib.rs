//! The Tessera portal: the vendor's service that hubs activate with and ping.
#![forbid(unsafe_code)]

pub mod store;
