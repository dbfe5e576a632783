//! End to end: the real `tessera`, `tessera-portal`, `tessera-hub` and `tessera-runner`
//! binaries as separate processes on loopback, as a customer would run them.

mod adversary;
mod bad_input;
mod bulk;
mod countersign;
mod countersign_places;
mod crashes;
mod demo;
mod fuzz_seeds;
mod hoarding;
mod kit;
mod ledger;
mod registering;
mod restores;
mod runner_slots;
mod scenarios;
mod secrets;
mod streams;
mod versions;
