//! Hub integration tests.
