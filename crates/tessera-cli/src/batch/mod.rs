//! Batch issuance: one license per CSV row, a manifest of what was issued, idempotent
//! re-runs.
//!
//! Every row is read and checked before anything is written, so a bad row (reported with
//! its line number) leaves the output directory untouched. Each row has a stable key (its
//! `order_id`, or a hash of its cells and how often the same cells came before); rows whose
//! key is already in `manifest.csv` are skipped. License file names derive from the row key,
//! so a run cut short simply rewrites the files of rows that never reached the manifest.
//! A manifest line is written only after its license file is durable on disk.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tessera_core::LicenseTerms;
use tessera_core::keys::SigningKey;
use tessera_core::license::{IssueError, LicenseId, LicenseKey, sign};
use tessera_core::time::UnixTime;

use crate::terms::RawTerms;

/// The manifest's file name inside the output directory.
pub const MANIFEST_NAME: &str = "manifest.csv";
const MANIFEST_HEADER: [&str; 6] = ["row_key", "id", "key", "org", "product", "file"];
const REQUIRED_COLUMNS: [&str; 4] = ["org", "product", "runners", "expires"];
const OPTIONAL_COLUMNS: [&str; 7] = [
    "not_before",
    "terminates",
    "features",
    "grace_days",
    "ping_interval",
    "portal_url",
    "order_id",
];
/// Rows issued between two manifest writes (and two file-system syncs).
const CHUNK: usize = 4096;

/// Why a batch could not be read or issued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path}: {message}")]
    Header { path: PathBuf, message: String },
    #[error("{path} line {line}: {reason}{}", more_rows(*.others))]
    Row { path: PathBuf, line: u64, reason: String, others: usize },
    #[error("{path} holds no orders")]
    Empty { path: PathBuf },
    #[error("manifest {path} is not one this tool wrote ({message}); it was left untouched")]
    Manifest { path: PathBuf, message: String },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Issue(#[from] IssueError),
}

fn more_rows(others: usize) -> String {
    match others {
        0 => String::new(),
        1 => " (and 1 more malformed row)".to_owned(),
        n => format!(" (and {n} more malformed rows)"),
    }
}

/// One row of the CSV, checked and ready to issue.
#[derive(Debug, Clone)]
pub struct Order {
    pub line: u64,
    pub row_key: String,
    pub terms: LicenseTerms,
}

impl Order {
    /// `<shard>/<org>-<hash of the row key>.license`: stable across runs, readable in a
    /// listing. The 256 shard directories (the hash's first two hex digits) keep directories
    /// small: one flat directory of 100,000 files makes every file creation slow.
    pub fn file_name(&self) -> String {
        let org: String = self
            .terms
            .org
            .as_str()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
            .take(32)
            .collect();
        let org = org.trim_matches('-');
        let hash = hex::encode(&Sha256::digest(self.row_key.as_bytes())[..6]);
        let shard = &hash[..2];
        if org.is_empty() {
            format!("{shard}/{hash}.license")
        } else {
            format!("{shard}/{org}-{hash}.license")
        }
    }
}

/// Reads and checks every row of the CSV at `path`. Empty cells take `defaults`.
pub fn read_orders(
    path: &Path,
    defaults: &RawTerms,
    now: UnixTime,
) -> Result<Vec<Order>, BatchError> {
    let file =
        File::open(path).map_err(|source| BatchError::Read { path: path.to_owned(), source })?;
    read_orders_from(file, path, defaults, now)
}

/// [`read_orders`] from any reader; `path` is only used in messages.
pub fn read_orders_from(
    reader: impl io::Read,
    path: &Path,
    defaults: &RawTerms,
    now: UnixTime,
) -> Result<Vec<Order>, BatchError> {
    let header_error = |message: String| BatchError::Header { path: path.to_owned(), message };
    let mut csv = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(reader);
    let headers = csv.headers().map_err(|e| header_error(e.to_string()))?.clone();
    let mut columns = HashMap::new();
    for (index, name) in headers.iter().enumerate() {
        if !REQUIRED_COLUMNS.contains(&name) && !OPTIONAL_COLUMNS.contains(&name) {
            return Err(header_error(format!(
                "unknown column {name:?} (known: {}, {})",
                REQUIRED_COLUMNS.join(","),
                OPTIONAL_COLUMNS.join(",")
            )));
        }
        if columns.insert(name.to_owned(), index).is_some() {
            return Err(header_error(format!("column {name:?} appears twice")));
        }
    }
    if let Some(missing) = REQUIRED_COLUMNS.iter().find(|c| !columns.contains_key(**c)) {
        return Err(header_error(format!(
            "the header row lacks the {missing:?} column (required: {})",
            REQUIRED_COLUMNS.join(",")
        )));
    }
    // Sorted by name, so the row key does not depend on column order.
    let mut sorted: Vec<(&String, &usize)> = columns.iter().collect();
    sorted.sort();

    let mut orders = Vec::new();
    let mut first_bad: Option<(u64, String)> = None;
    let mut bad_rows = 0usize;
    let mut seen_cells: HashMap<[u8; 32], u32> = HashMap::new();
    let mut seen_orders: HashMap<String, u64> = HashMap::new();
    for record in csv.records() {
        let (line, result) = match record {
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                (line, Err(e.to_string()))
            }
            Ok(record) => {
                let line = record.position().map_or(0, |p| p.line());
                let cell = |name: &str| {
                    columns
                        .get(name)
                        .and_then(|&i| record.get(i))
                        .filter(|v| !v.is_empty())
                        .map(str::to_owned)
                };
                let raw = RawTerms {
                    org: cell("org"),
                    product: cell("product"),
                    runners: cell("runners"),
                    expires: cell("expires"),
                    not_before: cell("not_before"),
                    terminates: cell("terminates"),
                    features: cell("features").into_iter().collect(),
                    grace_days: cell("grace_days"),
                    ping_interval: cell("ping_interval"),
                    portal_url: cell("portal_url"),
                    runner_countersign: false,
                };
                let row_key = match cell("order_id") {
                    Some(order) => match seen_orders.insert(order.clone(), line) {
                        Some(earlier) => {
                            Err(format!("order_id {order:?} already appears on line {earlier}"))
                        }
                        None => Ok(format!("order:{order}")),
                    },
                    None => {
                        let mut hash = Sha256::new();
                        for &(name, &index) in &sorted {
                            hash.update(name.as_bytes());
                            hash.update([0x1f]);
                            hash.update(record.get(index).unwrap_or_default().as_bytes());
                            hash.update([0x1e]);
                        }
                        let digest: [u8; 32] = hash.finalize().into();
                        let occurrence = seen_cells.entry(digest).or_insert(0);
                        *occurrence += 1;
                        Ok(format!("row:{}:{occurrence}", hex::encode(&digest[..16])))
                    }
                };
                let terms =
                    raw.or_defaults(defaults).resolve().map_err(|e| e.to_string()).and_then(
                        |terms| terms.check(now).map(|()| terms).map_err(|e| e.to_string()),
                    );
                (
                    line,
                    row_key.and_then(|row_key| terms.map(|terms| Order { line, row_key, terms })),
                )
            }
        };
        match result {
            Ok(order) => orders.push(order),
            Err(reason) => {
                bad_rows += 1;
                first_bad.get_or_insert((line, reason));
            }
        }
    }
    if let Some((line, reason)) = first_bad {
        return Err(BatchError::Row { path: path.to_owned(), line, reason, others: bad_rows - 1 });
    }
    if orders.is_empty() {
        return Err(BatchError::Empty { path: path.to_owned() });
    }
    Ok(orders)
}

/// One issued license, as recorded in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ManifestEntry {
    pub row_key: String,
    pub id: String,
    pub key: String,
    pub org: String,
    pub product: String,
    pub file: String,
}

/// A license just issued: its manifest entry and its armored text (what is in its file).
#[derive(Debug, Clone)]
pub struct Issued {
    pub entry: ManifestEntry,
    pub text: String,
}

/// What a batch run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BatchSummary {
    pub issued: usize,
    pub skipped: usize,
    pub out_dir: PathBuf,
    pub manifest: PathBuf,
}

/// Reads the row keys of an existing manifest, repairing a last line cut short by a crash.
fn open_manifest(path: &Path) -> Result<(HashSet<String>, File), BatchError> {
    let manifest_error = |message: String| BatchError::Manifest { path: path.to_owned(), message };
    let write_error = |source| BatchError::Write { path: path.to_owned(), source };
    let mut done = HashSet::new();
    let mut options = OpenOptions::new();
    options.read(true).append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(write_error)?;
    let bytes = fs::read(path).map_err(write_error)?;
    if bytes.is_empty() {
        let mut header = csv::Writer::from_writer(Vec::new());
        header.write_record(MANIFEST_HEADER).map_err(|e| manifest_error(e.to_string()))?;
        let header = header.into_inner().map_err(|e| manifest_error(e.to_string()))?;
        file.write_all(&header).map_err(write_error)?;
        return Ok((done, file));
    }
    let complete = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(end) => end + 1,
        None => return Err(manifest_error("no complete line".to_owned())),
    };
    if complete < bytes.len() {
        // A run was killed mid-line: that row's license is rewritten below.
        file.set_len(complete as u64).map_err(write_error)?;
    }
    let mut reader = csv::Reader::from_reader(&bytes[..complete]);
    let header = reader.headers().map_err(|e| manifest_error(e.to_string()))?;
    if header.iter().ne(MANIFEST_HEADER) {
        return Err(manifest_error(format!("its header is not {}", MANIFEST_HEADER.join(","))));
    }
    for entry in reader.deserialize::<ManifestEntry>() {
        let entry = entry.map_err(|e| manifest_error(e.to_string()))?;
        done.insert(entry.row_key);
    }
    Ok((done, file))
}

/// Writes a file only its owner reads: a license file holds the license key.
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}

/// Makes every file written in `dir` durable with one call, instead of one fsync a file.
fn sync_written_files(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        rustix::fs::syncfs(File::open(dir)?)?;
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
    }
    Ok(())
}

/// Issues every order not yet in the manifest of `out_dir`, signing with `key` at `now`.
/// `progress` is told how many rows were done (skipped ones included) as work advances.
pub fn issue_batch(
    orders: &[Order],
    key: &SigningKey,
    out_dir: &Path,
    now: UnixTime,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<BatchSummary, BatchError> {
    issue_batch_then(orders, key, out_dir, now, progress, &|_| {})
}

/// [`issue_batch`], handing `recorded` each chunk of licenses once it is durable and in
/// the manifest (to register them while the next chunks are issued, without reading their
/// files back). Issuing waits while `recorded` does.
pub fn issue_batch_then(
    orders: &[Order],
    key: &SigningKey,
    out_dir: &Path,
    now: UnixTime,
    progress: &(dyn Fn(u64) + Sync),
    recorded: &(dyn Fn(Vec<Issued>) + Sync),
) -> Result<BatchSummary, BatchError> {
    let dir_error = |source| BatchError::Write { path: out_dir.to_owned(), source };
    fs::create_dir_all(out_dir).map_err(dir_error)?;
    let manifest_path = out_dir.join(MANIFEST_NAME);
    let (done, mut manifest) = open_manifest(&manifest_path)?;
    let pending: Vec<&Order> = orders.iter().filter(|o| !done.contains(&o.row_key)).collect();
    let skipped = orders.len() - pending.len();
    progress(skipped as u64);

    let shards: std::collections::BTreeSet<String> =
        pending.iter().map(|o| o.file_name()[..2].to_owned()).collect();
    for shard in shards {
        let path = out_dir.join(shard);
        fs::create_dir_all(&path).map_err(|source| BatchError::Write { path, source })?;
    }

    // Two stages overlap: while the workers sign and write chunk N+1, a recorder thread
    // makes chunk N durable and only then appends it to the manifest.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        let (to_recorder, chunks_done) = std::sync::mpsc::sync_channel::<Vec<Issued>>(1);
        let manifest_path = &manifest_path;
        let recorder = scope.spawn(move || -> Result<(), BatchError> {
            for issued in chunks_done {
                sync_written_files(out_dir).map_err(dir_error)?;
                append_to_manifest(&mut manifest, manifest_path, &issued)?;
                progress(issued.len() as u64);
                recorded(issued);
            }
            Ok(())
        });
        let issued = pending.chunks(CHUNK).try_for_each(|chunk| {
            let per_thread = chunk.len().div_ceil(threads);
            let workers: Vec<_> = chunk
                .chunks(per_thread)
                .map(|part| scope.spawn(move || issue_part(part, key, out_dir, now)))
                .collect();
            let mut entries = Vec::with_capacity(chunk.len());
            for worker in workers {
                entries.extend(worker.join().unwrap_or_else(|p| std::panic::resume_unwind(p))?);
            }
            // A closed channel means the recorder failed: stop issuing; its own error is
            // the one reported below.
            to_recorder.send(entries).map_err(|_| BatchError::Write {
                path: manifest_path.clone(),
                source: io::Error::other("the manifest writer stopped"),
            })
        });
        drop(to_recorder);
        let recorded = recorder.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        recorded.and(issued)
    })?;
    tessera_core::fsutil::sync_dir(out_dir).map_err(dir_error)?;
    Ok(BatchSummary {
        issued: pending.len(),
        skipped,
        out_dir: out_dir.to_owned(),
        manifest: manifest_path,
    })
}

/// Appends the entries of `issued` to the manifest and makes them durable.
fn append_to_manifest(
    manifest: &mut File,
    path: &Path,
    issued: &[Issued],
) -> Result<(), BatchError> {
    let write_error = |source| BatchError::Write { path: path.to_owned(), source };
    let mut lines = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    for Issued { entry, .. } in issued {
        lines.serialize(entry).map_err(|e| write_error(io::Error::other(e)))?;
    }
    let lines = lines.into_inner().map_err(|e| write_error(io::Error::other(e.to_string())))?;
    manifest.write_all(&lines).map_err(write_error)?;
    manifest.sync_data().map_err(write_error)
}

fn issue_part(
    part: &[&Order],
    key: &SigningKey,
    out_dir: &Path,
    now: UnixTime,
) -> Result<Vec<Issued>, BatchError> {
    // One read of the OS generator for the whole part: a syscall per license costs more
    // than signing it on some virtual machines.
    const ENTROPY: usize = 10 + 21;
    let mut entropy = vec![0u8; part.len() * ENTROPY];
    tessera_core::keys::fill_random(&mut entropy).map_err(IssueError::from)?;
    part.iter()
        .zip(entropy.chunks_exact(ENTROPY))
        .map(|(order, random)| {
            let mut id = [0u8; 10];
            let mut license_key = [0u8; 21];
            id.copy_from_slice(&random[..10]);
            license_key.copy_from_slice(&random[10..]);
            let claims = order
                .terms
                .clone()
                .issue_as(now, LicenseId::new(now, id), LicenseKey::from_entropy(license_key))
                .map_err(IssueError::from)?;
            let text = sign(&claims, key).map_err(IssueError::from)?;
            let file = order.file_name();
            let path = out_dir.join(&file);
            write_private(&path, text.as_bytes())
                .map_err(|source| BatchError::Write { path, source })?;
            let entry = ManifestEntry {
                row_key: order.row_key.clone(),
                id: claims.id.to_string(),
                key: claims.key.expose(),
                org: claims.org.to_string(),
                product: claims.product.to_string(),
                file,
            };
            Ok(Issued { entry, text })
        })
        .collect()
}

#[cfg(test)]
mod tests;
