//! The command-line examples of the documentation, run as written: each `$ tessera …` line in
//! `tests/cmd/*.md` (which README.md and docs/CLI.md point to) runs the real binary, and its
//! output (stdout and stderr together) and exit code must be what the file shows. `[..]`
//! stands for what changes from run to run (keys, ids, dates). After a deliberate change of
//! output, `TRYCMD=overwrite cargo test -p tessera-cli --test cli examples` rewrites them.

#[test]
fn the_documented_examples_run_as_written() {
    // The examples are written for a shell without these: set, they would change the answers.
    for name in ["TESSERA_PASSPHRASE", "TESSERA_API_KEY", "TESSERA_LOG"] {
        assert!(std::env::var_os(name).is_none(), "unset {name} to run the documented examples");
    }
    trycmd::TestCases::new()
        .register_bin("tessera", std::path::Path::new(env!("CARGO_BIN_EXE_tessera")))
        .env("NO_COLOR", "1")
        // The width help is wrapped at when it is not on a terminal.
        .env("COLUMNS", "100")
        .case("tests/cmd/*.md");
}
