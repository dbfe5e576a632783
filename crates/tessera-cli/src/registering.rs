//! `tessera register`, and the printing it shares with `tessera issue --register`: a
//! progress bar on a terminal, one line per refused license, exit 8 when any was refused.

use std::io::IsTerminal;
use std::path::PathBuf;

use tessera_cli::portal::{AdminApiClient, BatchResult, Progress, Tally};
use tessera_process::{Classify as _, Failure};

use crate::cli::RegisterArgs;
use crate::emit;
use crate::error::Exit;

pub(crate) fn register(args: RegisterArgs) -> Result<u8, Failure> {
    let key = tessera_cli::secrets::api_key(args.api_key_file.as_deref()).map_err(Exit::failure)?;
    let client =
        AdminApiClient::new(&args.portal, &key, args.insecure_http).map_err(Exit::failure)?;
    let results = register_all(&client, &args.files, "registering")?;
    let mut refused = 0usize;
    for (file, result) in args.files.iter().zip(&results) {
        if result.outcome == "refused" {
            refused += 1;
        }
        if args.json {
            emit(&format!("{}\n", serde_json::json!({ "file": file, "result": result })))?;
        } else {
            emit(&format!("{}: {}\n", file.display(), describe(result)))?;
        }
    }
    refusals(refused, results.len())?;
    Ok(0)
}

/// A progress bar drawn on stderr when it is a terminal, hidden otherwise (logs and pipes
/// get no control characters).
pub(crate) fn progress_bar(len: usize) -> indicatif::ProgressBar {
    indicatif::ProgressBar::with_draw_target(
        Some(len as u64),
        if std::io::stderr().is_terminal() {
            indicatif::ProgressDrawTarget::stderr()
        } else {
            indicatif::ProgressDrawTarget::hidden()
        },
    )
}

/// Where a batch was registered and what the portal said, counted.
#[derive(serde::Serialize)]
pub(crate) struct BatchRegistration {
    pub(crate) portal: String,
    #[serde(flatten)]
    pub(crate) tally: Tally,
}

/// Registers `files` with a progress bar on a terminal (four calls in flight: the portal
/// checks signatures on as many cores).
fn register_all(
    client: &AdminApiClient,
    files: &[PathBuf],
    what: &'static str,
) -> Result<Vec<BatchResult>, Failure> {
    let bar = progress_bar(files.len());
    bar.set_message(what);
    let results = tessera_cli::portal::register_files(
        client,
        files,
        tessera_cli::portal::CALLS_IN_FLIGHT,
        &|step| match step {
            Progress::Done(n) => {
                bar.set_message(what);
                bar.inc(n);
            }
            Progress::Waiting(pause) => {
                bar.set_message(format!(
                    "the portal asks to slow down: waiting {} s",
                    pause.as_secs_f32()
                ));
                bar.tick();
            }
        },
    );
    bar.finish_and_clear();
    results.map_err(Exit::failure)
}

pub(crate) fn describe(result: &BatchResult) -> String {
    let id = result.id.as_deref().unwrap_or("-");
    match result.outcome.as_str() {
        "registered" => format!("registered ({id}, {})", result.status),
        "already" => format!("already registered ({id}, {})", result.status),
        _ => format!(
            "refused ({}): {}",
            result.status,
            result.problem.as_deref().unwrap_or("no reason given")
        ),
    }
}

/// Exit 8 when the portal refused some licenses (each was named on its own line).
pub(crate) fn refusals(refused: usize, total: usize) -> Result<(), Failure> {
    if refused == 0 {
        return Ok(());
    }
    Err(Failure::new(
        Exit::Refused,
        format!(
            "the portal refused {refused} of {total} licenses (listed above); the others are registered"
        ),
    ))
}
