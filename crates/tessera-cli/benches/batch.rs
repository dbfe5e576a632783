//! Batch issuance of 100,000 CSV rows to license files, through the same library calls as
//! `tessera issue --batch` (read and check every row, sign, write, sync, manifest), beside
//! the file system's own ceiling in the same run: creating the same number of files of the
//! same size in the same layout and syncing them once, with no signing at all. See
//! BENCHMARKS.md.
//!
//! The files go under `TESSERA_BENCH_DIR` (default: the system temporary directory), so the
//! same bench can be run on a disk and on tmpfs.

use std::io::Write;
use std::path::{Path, PathBuf};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tessera_cli::batch::{issue_batch, read_orders};
use tessera_cli::terms::RawTerms;
use tessera_core::UnixTime;
use tessera_core::keys::SigningKey;

const ROWS: usize = 100_000;

fn write_orders(path: &Path) {
    let mut csv = std::io::BufWriter::new(std::fs::File::create(path).expect("csv"));
    writeln!(csv, "org,product,runners,expires,features,order_id").expect("write");
    for i in 0..ROWS {
        writeln!(csv, "Customer {i} Ltd,acme-hub,{},2028-12-31,sso;audit-log,ORD-{i}", 1 + i % 50)
            .expect("write");
    }
}

fn bench_dir() -> PathBuf {
    std::env::var_os("TESSERA_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from)
}

/// The file system's part alone, done the cheapest way: the same number of files of the same
/// size in the same layout, written by as many threads, then one `syncfs` to make them
/// durable. No parsing, no signing, no manifest.
fn create_files_only(out: &Path, size: usize) {
    let body = vec![b'x'; size];
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    for shard in 0..256 {
        std::fs::create_dir(out.join(format!("{shard:02x}"))).expect("shard");
    }
    let all: Vec<usize> = (0..ROWS).collect();
    std::thread::scope(|scope| {
        for part in all.chunks(ROWS.div_ceil(threads)) {
            let body = &body;
            scope.spawn(move || {
                for i in part {
                    let name = format!("{:02x}/customer-{i}-ltd-000000000000.license", i % 256);
                    std::fs::write(out.join(name), body).expect("write");
                }
            });
        }
    });
    rustix::fs::syncfs(std::fs::File::open(out).expect("dir")).expect("syncfs");
}

fn batch(c: &mut Criterion) {
    let scratch = tempfile::tempdir_in(bench_dir()).expect("scratch dir");
    let csv = scratch.path().join("orders.csv");
    write_orders(&csv);
    let key = SigningKey::from_seed(&[0x42; 32]);
    let now: UnixTime = "2027-01-01T00:00:00Z".parse().expect("time");
    let size = {
        let probe = tempfile::tempdir_in(scratch.path()).expect("probe dir");
        let orders = read_orders(&csv, &RawTerms::default(), now).expect("orders");
        issue_batch(&orders[..1], &key, probe.path(), now, &|_| {}).expect("one");
        let file = std::fs::read_dir(probe.path())
            .expect("ls")
            .filter_map(Result::ok)
            .find(|e| e.path().is_dir())
            .and_then(|shard| std::fs::read_dir(shard.path()).ok()?.next())
            .expect("one license")
            .expect("entry");
        file.metadata().expect("meta").len() as usize
    };

    let mut group = c.benchmark_group("batch_issue");
    group.sample_size(10);
    group.throughput(Throughput::Elements(ROWS as u64));
    let fresh_dir = || tempfile::tempdir_in(scratch.path()).expect("out dir");
    group.bench_function("files_only_baseline_100k", |b| {
        b.iter_batched(
            fresh_dir,
            |out| {
                create_files_only(out.path(), size);
                out // dropped, and its 100,000 files deleted, outside the timing
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("csv_to_files_100k", |b| {
        b.iter_batched(
            fresh_dir,
            |out| {
                let orders = read_orders(&csv, &RawTerms::default(), now).expect("orders");
                let summary = issue_batch(&orders, &key, out.path(), now, &|_| {}).expect("batch");
                assert_eq!(summary.issued, ROWS);
                out
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, batch);
criterion_main!(benches);
