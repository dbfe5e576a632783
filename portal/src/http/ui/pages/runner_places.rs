//! The runner places a license with `runner_countersign` holds at the portal: the part of
//! the license page that shows them, and the vendor's confirmation before freeing them.

use maud::{Markup, html};

use super::*;
use crate::domain::licenses::LicenseRow;
use crate::domain::runner_places::PlacesHeld;

/// The license page's part: "n of limit" held, each place until when, and the way to free
/// them for those who may (`free`).
pub fn places_held(license_id: &str, held: &PlacesHeld, free: bool) -> Markup {
    html! {
        h2 id="runner-places" { "Runner places" }
        p {
            (held.places.len()) " of " (held.limit) " runner places held at the portal "
            span.muted { "(each until the grace of the last receipt naming it ends)" }
        }
        @if held.places.is_empty() {
            p { "No runner holds a place now: the hub's next validation gets its runners countersigned, up to the limit." }
        } @else {
            (places_table(held))
        }
        @if free && !held.places.is_empty() {
            div.actions {
                a href={ "/ui/licenses/" (license_id) "/runner-places" } { "Free runner places" }
            }
        }
    }
}

fn places_table(held: &PlacesHeld) -> Markup {
    scrolling_table(
        "Runner places",
        &["Place", "Counted until"],
        None,
        html! {
            @for row in &held.places {
                tr {
                    td data-label="Place" { code { (row.runner_place) } }
                    td data-label="Counted until" { (moment(Some(row.until))) }
                }
            }
        },
    )
}

/// The confirmation before freeing the places of `l`: all of them, or the one chosen.
pub fn confirm_free_places(chrome: &Chrome<'_>, l: &LicenseRow, held: &PlacesHeld) -> Markup {
    page(
        "Free runner places",
        Some(chrome),
        html! {
            h1 { "Free the runner places of license " code { (l.id) } "?" }
            p { (l.org) " · " (l.product) }
            p { (held.places.len()) " of " (held.limit) " places are held now." }
            (places_table(held))
            p { "A freed place counts no more: the hub's next validation gets a new runner countersigned at once. Free a place only when the customer says its runner is gone (a broken or replaced machine): a runner that still runs keeps running on the receipt it holds until that receipt's grace ends, beside the one that takes its place. The freeing is recorded in the audit ledger." }
            form method="post" action={ "/ui/licenses/" (l.id) "/runner-places/free" } {
                input type="hidden" name="csrf" value=(chrome.csrf);
                div.field {
                    label for="free-place" { "Places to free" }
                    // No choice made for the vendor: freeing every place lends the most.
                    select id="free-place" name="place" required {
                        option value="" disabled selected { "choose…" }
                        option value="all" { "all of them" }
                        @for row in &held.places {
                            option value=(row.runner_place) { "only " (row.runner_place) }
                        }
                    }
                }
                div.actions {
                    button.danger type="submit" { "Free runner places" }
                    a href={ "/ui/licenses/" (l.id) } { "Cancel" }
                }
            }
        },
    )
}
