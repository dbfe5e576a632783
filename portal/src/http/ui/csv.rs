//! CSV cells for the lists people download: a cell a spreadsheet would run as a formula
//! (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) starts with an apostrophe
//! instead, so it is shown as text (OWASP's "CSV injection").

/// The cell's text, an apostrophe first when a spreadsheet would run it.
pub(crate) fn as_text(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// One cell, quoted when it holds a comma, a quote or a line break.
pub(super) fn cell(text: &str) -> String {
    let text = as_text(text);
    if text.contains([',', '"', '\n', '\r']) { quote(&text) } else { text }
}

/// One cell, always quoted.
pub(super) fn quoted_cell(text: &str) -> String {
    quote(&as_text(text))
}

fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::{cell, quoted_cell};

    #[test]
    fn a_cell_that_a_spreadsheet_would_run_is_text() {
        for (text, written) in [
            ("Acme Corp", "Acme Corp"),
            ("=HYPERLINK(\"http://x\")", "\"'=HYPERLINK(\"\"http://x\"\")\""),
            ("+1", "'+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tTab", "'\tTab"),
            ("\rcr", "\"'\rcr\""),
            ("a,b", "\"a,b\""),
            ("line\nbreak", "\"line\nbreak\""),
            ("", ""),
        ] {
            assert_eq!(cell(text), written, "{text:?}");
        }
    }

    #[test]
    fn a_quoted_cell_is_quoted_and_a_formula_still_text() {
        assert_eq!(quoted_cell("Acme Corp"), "\"Acme Corp\"");
        assert_eq!(quoted_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        for formula in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(quoted_cell(formula), format!("\"'{formula}\""));
        }
        assert_eq!(quoted_cell("a=b"), "\"a=b\"");
    }
}
