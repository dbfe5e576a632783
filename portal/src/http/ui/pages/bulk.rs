//! Changing many licenses at once: the confirmation naming how many and which, and what
//! became of each.

use maud::{Markup, html};

use super::*;
use crate::domain::actions::Action;
use crate::domain::licenses::LicenseRow;

pub fn bulk_confirm(
    chrome: &Chrome<'_>,
    action: Action,
    chosen: &[LicenseRow],
    left_out: usize,
) -> Markup {
    let title = format!("{} {}?", action_label(action), plural(chosen.len() as i64, "license"));
    page(
        &title,
        Some(chrome),
        html! {
            h1 { (title) }
            p { (action_warning(action)) }
            @if left_out > 0 {
                p.notice role="status" { (plural(left_out as i64, "chosen license")) " cannot be changed so by you and " @if left_out == 1 { "is" } @else { "are" } " left out." }
            }
            form method="post" action={ "/ui/licenses/bulk/" (action.as_str()) } {
                input type="hidden" name="csrf" value=(chrome.csrf);
                div.table tabindex="0" role="region" aria-label="The licenses to change" {
                    table.list.stack {
                        thead { tr { th scope="col" { "License" } th scope="col" { "Customer" } th scope="col" { "Product" } th scope="col" { "Ends" } } }
                        tbody {
                            @for l in chosen {
                                tr {
                                    td data-label="License" { input type="hidden" name="ids" value=(l.id); code { (l.id) } }
                                    td data-label="Customer" { (l.org) }
                                    td data-label="Product" { (l.product) }
                                    td.nowrap data-label="Ends" { (day(l.expires_at)) }
                                }
                            }
                        }
                    }
                }
                div.actions {
                    button.danger[action == Action::Revoke] type="submit" { (action_label(action)) " " (plural(chosen.len() as i64, "license")) }
                    a href="/ui/licenses" { "Cancel" }
                }
            }
        },
    )
}

pub fn bulk_done(
    chrome: &Chrome<'_>,
    action: Action,
    outcomes: &[(String, Result<(), String>)],
) -> Markup {
    let done = outcomes.iter().filter(|(_, o)| o.is_ok()).count();
    page(
        "Changed",
        Some(chrome),
        html! {
            h1 { (action_label(action)) ": " (done) " of " (plural(outcomes.len() as i64, "license")) }
            div.table tabindex="0" role="region" aria-label="What became of each license" {
                table.list.stack {
                    thead { tr { th scope="col" { "License" } th scope="col" { "Outcome" } } }
                    tbody {
                        @for (id, outcome) in outcomes {
                            tr {
                                td data-label="License" { a href={ "/ui/licenses/" (id) } { code { (id) } } }
                                td data-label="Outcome" { @match outcome { Ok(()) => "done", Err(why) => { "not done: " (why) } } }
                            }
                        }
                    }
                }
            }
            p { a href="/ui/licenses" { "Back to the licenses" } }
        },
    )
}
