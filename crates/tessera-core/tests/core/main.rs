//! tessera-core's integration tests: the file test vectors, tamper resistance and parser
//! robustness. One binary, as in zero-to-production's `tests/api`.

mod helpers;
mod props;
mod tamper;
mod vectors;
