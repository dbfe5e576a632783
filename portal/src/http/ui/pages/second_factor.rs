//! Turning on two-step sign-in: the secret as a QR code and as text, the recovery codes.

use maud::{Markup, html};

use super::*;

pub fn enrol(
    chrome: &Chrome<'_>,
    secret: &str,
    tag: &str,
    uri: &str,
    required: bool,
    error: Option<&str>,
) -> Markup {
    page(
        "Two-step sign-in",
        Some(chrome),
        html! {
            h1 { "Turn on two-step sign-in" }
            @if required { p.notice role="status" { "This portal requires two-step sign-in for super-admins: set it up to go on." } }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            ol {
                @if let Some(svg) = qr_svg(uri) {
                    li {
                        "Scan this QR code with your authenticator app:"
                        div.qr { (maud::PreEscaped(svg)) }
                    }
                    li { "Or add an account in the app with this key (time-based, 6 digits, 30 seconds): " code { (secret) } }
                } @else {
                    li { "In your authenticator app, add an account with this key (time-based, 6 digits, 30 seconds): " code { (secret) } }
                }
                li { "Or open this address on the device that has the app: " code { (uri) } }
                li { "Type the code the app shows:" }
            }
            form method="post" action="/ui/profile/second-factor" {
                input type="hidden" name="csrf" value=(chrome.csrf);
                input type="hidden" name="secret" value=(secret);
                input type="hidden" name="tag" value=(tag);
                div.field {
                    label for="code" { "Code from the app" }
                    input id="code" name="code" required inputmode="numeric" autocomplete="one-time-code" maxlength="8";
                }
                button type="submit" { "Turn on" }
            }
        },
    )
}

/// `text` as a QR code in inline SVG (drawn by the server: no script, no image request),
/// error correction level M, black on white, at least 200 pixels wide. Its text
/// alternative says what it holds; the same key and address are on the page as text.
pub fn qr_svg(text: &str) -> Option<String> {
    use qrcode::render::svg::Color;
    let code =
        qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M).ok()?;
    let svg = code
        .render::<Color<'_>>()
        .min_dimensions(200, 200)
        .dark_color(Color("#000"))
        .light_color(Color("#fff"))
        .build();
    // Inline in HTML: no XML declaration; named for screen readers.
    let svg = svg.split_once("<svg ").map(|(_, rest)| rest)?;
    Some(format!(
        r#"<svg role="img" aria-label="QR code of the authenticator address shown below as text" {svg}"#
    ))
}

pub fn recovery_codes(chrome: &Chrome<'_>, codes: &[String]) -> Markup {
    page(
        "Recovery codes",
        Some(chrome),
        html! {
            h1 { "Two-step sign-in is on" }
            p.notice role="status" { "Keep these recovery codes somewhere safe. Each signs you in once without the app; they are shown only now." }
            ul { @for code in codes { li { code { (code) } } } }
            p { a href="/ui/profile" { "Back to your profile" } }
        },
    )
}
