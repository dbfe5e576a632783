//! Reading an export of the ledger (JSON lines) into what [`super::verify`] checks.

use super::{Entry, Signed};
use crate::merkle::Frontier;
use crate::time::UnixTime;

/// What an export holds, as `tessera audit verify` reads it.
#[derive(Debug, Default, Clone)]
pub struct Export {
    /// The delegations of the keys that signed checkpoints (armored text).
    pub delegations: Vec<String>,
    /// What a retention cut removed, standing for the entries before the first held.
    pub frontier: Option<Frontier>,
    /// Entries with the leaf hash the portal stored for each, in the file's order.
    pub entries: Vec<(Entry, [u8; 32])>,
    /// Signed checkpoints.
    pub checkpoints: Vec<Signed>,
    /// The size of the tree the export says it covers, from its last line (`end`): an
    /// export without one was cut short (a file of checkpoint lines has none either).
    pub end: Option<u64>,
}

/// A line of an export that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ExportLineError {
    /// The line number.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

impl Export {
    /// Reads an export as `GET /v1/admin/audit` writes it: JSON lines, each a `delegation`
    /// (`text`), a `frontier` (`size`, `hashes`), an `entry` (its fields and `hash`), a
    /// `checkpoint` (`signed_at`, `note`) or, last, the `end` (`size`). A file holding only checkpoint lines (the portal's
    /// witness file) reads as an export without entries. The lines are parsed on every core
    /// (a million-entry export is mostly JSON to read), then put together in order.
    pub fn from_lines<I, S>(lines: I) -> Result<Export, ExportLineError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str> + Sync,
    {
        let lines: Vec<S> = lines.into_iter().collect();
        let parsed = parse_all(&lines)?;
        let mut export = Export::default();
        for (i, item) in parsed.into_iter().enumerate() {
            if item.is_some() && export.end.is_some() {
                return Err(ExportLineError {
                    line: i + 1,
                    message: "a line after the end line".into(),
                });
            }
            match item {
                None => {}
                Some(Parsed::End(size)) => export.end = Some(size),
                Some(Parsed::Delegation(text)) => export.delegations.push(text),
                Some(Parsed::Frontier(frontier)) => {
                    if export.frontier.is_some() || !export.entries.is_empty() {
                        return Err(ExportLineError {
                            line: i + 1,
                            message: "a frontier comes once, before the entries".into(),
                        });
                    }
                    export.frontier = Some(frontier);
                }
                Some(Parsed::Entry(entry, hash)) => export.entries.push((entry, hash)),
                Some(Parsed::Checkpoint(signed)) => export.checkpoints.push(signed),
            }
        }
        Ok(export)
    }
}

/// One line, read.
enum Parsed {
    Delegation(String),
    Frontier(Frontier),
    Entry(Entry, [u8; 32]),
    Checkpoint(Signed),
    End(u64),
}

/// Lines per piece of work when parsing on several threads.
const LINES_PER_CHUNK: usize = 8192;

/// Parses every line, in chunks on every core; the first bad line (by number) is the error.
fn parse_all<S: AsRef<str> + Sync>(lines: &[S]) -> Result<Vec<Option<Parsed>>, ExportLineError> {
    let parse_chunk = |first: usize, chunk: &[S]| -> Result<Vec<Option<Parsed>>, ExportLineError> {
        chunk.iter().enumerate().map(|(i, line)| parse_line(first + i + 1, line.as_ref())).collect()
    };
    let chunks: Vec<&[S]> = lines.chunks(LINES_PER_CHUNK).collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(chunks.len());
    if threads <= 1 {
        return parse_chunk(0, lines);
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::Mutex::new(Vec::with_capacity(chunks.len()));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut mine = Vec::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(chunk) = chunks.get(i) else { break };
                    mine.push((i, parse_chunk(i * LINES_PER_CHUNK, chunk)));
                }
                if let Ok(mut done) = done.lock() {
                    done.extend(mine);
                }
            });
        }
    });
    let mut results = done.into_inner().unwrap_or_default();
    results.sort_by_key(|(i, _)| *i);
    let mut all = Vec::with_capacity(lines.len());
    for (_, chunk) in results {
        all.extend(chunk?);
    }
    Ok(all)
}

/// Reads line number `number` (`None`: an empty line).
fn parse_line(number: usize, line: &str) -> Result<Option<Parsed>, ExportLineError> {
    let bad = |message: String| ExportLineError { line: number, message };
    // A byte order mark, as some editors save a file, is no part of the first line.
    let line = if number == 1 { line.trim_start_matches('\u{feff}') } else { line };
    let line = line.trim();
    if line.is_empty() {
        return Ok(None);
    }
    let parsed: Line = serde_json::from_str(line).map_err(|e| {
        bad(format!(
            "not a delegation, a frontier, an entry, a checkpoint or the end of an audit export: {e}"
        ))
    })?;
    let hex32 = |text: &str| -> Result<[u8; 32], ExportLineError> {
        let mut hash = [0u8; 32];
        hex::decode_to_slice(text, &mut hash).map_err(|_| bad("hash: 64 hex digits".to_owned()))?;
        Ok(hash)
    };
    Ok(Some(match parsed {
        Line::Delegation { text } => Parsed::Delegation(text),
        Line::Frontier { size, hashes } => {
            let hashes = hashes.iter().map(|h| hex32(h)).collect::<Result<_, _>>()?;
            Parsed::Frontier(Frontier::from_parts(size, hashes).map_err(|e| bad(e.to_string()))?)
        }
        Line::Entry { seq, at, actor, action, target, org, hash } => {
            let hash = hex32(&hash)?;
            Parsed::Entry(Entry { seq, at, actor, action, target, org }, hash)
        }
        Line::Checkpoint { signed_at, note } => {
            let signed_at = UnixTime::from_unix(signed_at).map_err(|_| bad("signed_at".into()))?;
            Parsed::Checkpoint(Signed::parse(&note, signed_at).map_err(|e| bad(e.to_string()))?)
        }
        Line::End { size } => Parsed::End(size),
    }))
}

/// One line of an export, as written.
#[derive(serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
enum Line {
    Delegation {
        text: String,
    },
    Frontier {
        size: u64,
        hashes: Vec<String>,
    },
    Entry {
        seq: u64,
        at: i64,
        actor: String,
        action: String,
        target: String,
        org: Option<String>,
        hash: String,
    },
    Checkpoint {
        signed_at: i64,
        note: String,
    },
    End {
        size: u64,
    },
}
