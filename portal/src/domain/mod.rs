//! The portal's rules, between the HTTP layer and the store: a license's standing, the
//! binding rule, the clock check, people (accounts and sessions), API keys, and the ping path that authenticates pings and
//! has them stored. Nothing here knows HTTP; nothing here writes SQL.

pub mod accounts;
pub mod actions;
pub mod apikeys;
pub mod audit;
pub mod binding;
pub mod clock;
pub mod pings;
pub mod standing;
pub mod totp;
pub mod witnesses;
