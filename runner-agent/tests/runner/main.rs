//! Runner integration tests.
