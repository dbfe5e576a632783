//! `tessera issue`: one license or a batch, registered with a portal or not, and what it
//! prints.

use std::path::Path;

use tessera_cli::batch;
use tessera_cli::issue::{
    IssuedOne, RegisterAt, Registered, admin_client, issue_and_register, issue_one,
};
use tessera_cli::render::ClaimsView;
use tessera_cli::secrets::load_signing_key;
use tessera_cli::terms::RawTerms;
use tessera_core::time::{Clock, SystemClock};
use tessera_process::{Classify as _, Failure};

use crate::cli::{IssueArgs, TermsArgs};
use crate::error::Exit;
use crate::registering::{BatchRegistration, describe, progress_bar, refusals};
use crate::{emit, emit_json};

fn raw_terms(args: TermsArgs) -> RawTerms {
    RawTerms {
        org: args.org,
        product: args.product,
        runners: args.runners.map(|n| n.to_string()),
        expires: args.expires,
        not_before: args.not_before,
        terminates: args.terminates,
        features: args.features,
        grace_days: args.grace_days.map(|n| n.to_string()),
        ping_interval: args.ping_interval,
        portal_url: args.portal_url,
        runner_countersign: args.runner_countersign,
    }
}

pub(crate) fn issue(args: IssueArgs) -> Result<u8, Failure> {
    let now = SystemClock.now();
    let defaults = raw_terms(args.terms);
    if let (Some(csv), Some(out_dir)) = (&args.batch, &args.out_dir) {
        // Every row, the portal's URL and the API key are checked before the key is unlocked
        // or anything is written.
        let orders = batch::read_orders(csv, &defaults, now).map_err(Exit::failure)?;
        let client = admin_client(args.register.as_deref().map(|portal| RegisterAt {
            portal,
            api_key_file: args.api_key_file.as_deref(),
            insecure_http: args.insecure_http,
        }))
        .map_err(Exit::failure)?;
        let key = load_signing_key(&args.key).map_err(Exit::failure)?;
        let bar = progress_bar(orders.len());
        let (summary, registration) = match &client {
            None => (
                batch::issue_batch(&orders, &key, out_dir, now, &|n| bar.inc(n))
                    .map_err(Exit::failure)?,
                None,
            ),
            Some(client) => {
                let done = issue_and_register(
                    client,
                    &orders,
                    &key,
                    out_dir,
                    now,
                    &|n| bar.inc(n),
                    &|pause| {
                        bar.set_message(format!(
                            "the portal asks to slow down: waiting {} s",
                            pause.as_secs_f32()
                        ))
                    },
                )
                .map_err(Exit::failure)?;
                for (file, result) in &done.refused {
                    tessera_process::note(&format_args!(
                        "{}: {}",
                        file.display(),
                        describe(result)
                    ));
                }
                refusals(done.tally.refused, done.sent)?;
                let portal = client.url().to_owned();
                (done.summary, Some(BatchRegistration { portal, tally: done.tally }))
            }
        };
        bar.finish_and_clear();
        if args.json {
            #[derive(serde::Serialize)]
            struct Issued<'a> {
                #[serde(flatten)]
                summary: &'a batch::BatchSummary,
                #[serde(skip_serializing_if = "Option::is_none")]
                registration: Option<&'a BatchRegistration>,
            }
            emit_json(&Issued { summary: &summary, registration: registration.as_ref() })?;
        } else {
            let mut text = format!(
                "issued {} licenses, skipped {} already issued; manifest: {}\n",
                summary.issued,
                summary.skipped,
                summary.manifest.display()
            );
            if let Some(BatchRegistration { portal, tally }) = &registration {
                text.push_str(&format!(
                    "registered {} licenses at {portal} ({} of them already registered)\n",
                    tally.registered + tally.already,
                    tally.already
                ));
            }
            emit(&text)?;
        }
        return Ok(0);
    }
    let Some(out) = args.out else {
        return Err(Failure::new(Exit::Input, "give --out FILE or --batch CSV --out-dir DIR"));
    };
    let terms = defaults.resolve().map_err(Exit::failure)?;
    let register = args.register.as_deref().map(|portal| RegisterAt {
        portal,
        api_key_file: args.api_key_file.as_deref(),
        insecure_http: args.insecure_http,
    });
    let IssuedOne { claims, signed_by, registration } =
        issue_one(terms, &args.key, &out, args.force, register, now).map_err(Exit::failure)?;
    if args.json {
        #[derive(serde::Serialize)]
        struct Issued<'a> {
            file: &'a Path,
            key_id: String,
            #[serde(flatten)]
            claims: ClaimsView<'a>,
            #[serde(skip_serializing_if = "Option::is_none")]
            registration: Option<&'a Registered>,
        }
        emit_json(&Issued {
            file: &out,
            key_id: signed_by.to_string(),
            claims: ClaimsView::new(&claims),
            registration: registration.as_ref(),
        })?;
    } else {
        let mut text = format!(
            "license id:  {}\nlicense key: {}\nwritten to:  {}\n",
            claims.id,
            claims.key.expose(),
            out.display()
        );
        if let Some(Registered { portal, answer }) = &registration {
            let already = if answer.registered { "" } else { "already " };
            text.push_str(&format!(
                "registered:  {already}at {portal} as {} ({})\n",
                answer.id, answer.status
            ));
        }
        emit(&text)?;
    }
    Ok(0)
}
