//! The portal over real HTTP on loopback, against a real SQLite file and (when
//! TESSERA_TEST_POSTGRES_URL is set) a real PostgreSQL database. One integration binary.

mod admin_api;
mod attack_ledger;
mod bad_input;
mod browser;
mod browser_find;
mod browser_people;
mod browser_places;
mod countersign;
mod guessing;
mod helpers;
mod hostile;
mod hub_api;
mod judgement;
mod ledger_insiders;
mod ledger_proofs;
mod ledger_signing;
mod listing;
mod mail;
mod people;
mod processes;
mod rights;
mod runner_places;
mod serving;
mod storage;
mod visibility;
mod web;
