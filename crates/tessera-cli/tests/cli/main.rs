//! The real `tessera` binary, run as a vendor would run it. One integration binary.

mod batch;
mod examples;
mod helpers;
mod keys;
mod licenses;
mod misuse;
mod offline;
mod streams;
