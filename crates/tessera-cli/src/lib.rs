//! The vendor CLI's logic, kept out of the `tessera` binary so it can be tested and
//! benchmarked: key pairs and passphrases ([`secrets`]), terms as typed by people
//! ([`terms`]), batch issuance ([`batch`]), output ([`render`]) and the demo ([`demo`]).
#![forbid(unsafe_code)]

pub mod batch;
pub mod demo;
pub mod portal;
pub mod render;
pub mod secrets;
pub mod terms;
