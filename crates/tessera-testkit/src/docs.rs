//! The docs show the code that runs: an example file printed in a doc is compared with the
//! file itself, so that the two cannot drift apart.

use std::path::Path;

/// The workspace's root directory (this crate is `crates/tessera-testkit`).
fn workspace_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// Asserts that `doc` (a path from the workspace root) shows the file `example` (also from
/// the root) verbatim, in the first fenced code block after the line that names it in
/// backquotes.
pub fn assert_doc_shows(doc: &str, example: &str) {
    let root = workspace_root();
    let text = std::fs::read_to_string(root.join(doc)).unwrap_or_else(|e| panic!("{doc}: {e}"));
    let file =
        std::fs::read_to_string(root.join(example)).unwrap_or_else(|e| panic!("{example}: {e}"));
    let shown = block_after(&text, &format!("`{example}`"))
        .unwrap_or_else(|| panic!("{doc} does not name {example} before a code block"));
    assert_eq!(shown, file, "{doc} shows another text than {example}");
}

/// The text of the first fenced code block after the line that names `name`.
fn block_after(doc: &str, name: &str) -> Option<String> {
    let mut lines = doc.lines().skip_while(|l| !l.contains(name));
    lines.next()?;
    let mut lines = lines.skip_while(|l| !l.starts_with("```"));
    lines.next()?;
    let block: Vec<&str> = lines.take_while(|l| !l.starts_with("```")).collect();
    Some(block.iter().map(|l| format!("{l}\n")).collect())
}

#[cfg(test)]
mod tests {
    use super::block_after;

    #[test]
    fn the_block_after_the_name_is_found_and_nothing_else() {
        let doc = "intro\n```\nnot this\n```\n`a.c` shows:\n\n```c\nint x;\n\nint y;\n```\n";
        assert_eq!(block_after(doc, "`a.c`").as_deref(), Some("int x;\n\nint y;\n"));
        assert_eq!(block_after(doc, "`b.c`"), None);
        assert_eq!(block_after("`a.c` and no block\n", "`a.c`"), None);
    }
}
