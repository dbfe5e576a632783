//! Batch issuance of 100,000 CSV rows to license files, through the same library calls as
//! `tessera issue --batch` (read and check every row, sign, write, manifest). See
//! BENCHMARKS.md.

use std::io::Write;
use std::path::Path;

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

fn batch(c: &mut Criterion) {
    let scratch = tempfile::tempdir().expect("tempdir");
    let csv = scratch.path().join("orders.csv");
    write_orders(&csv);
    let key = SigningKey::from_seed(&[0x42; 32]);
    let now: UnixTime = "2027-01-01T00:00:00Z".parse().expect("time");

    let mut group = c.benchmark_group("batch_issue");
    group.sample_size(10);
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("csv_to_files_100k", |b| {
        b.iter_batched(
            || tempfile::tempdir_in(scratch.path()).expect("out dir"),
            |out| {
                let orders = read_orders(&csv, &RawTerms::default(), now).expect("orders");
                let summary = issue_batch(&orders, &key, out.path(), now, &|_| {}).expect("batch");
                assert_eq!(summary.issued, ROWS);
                // Returned so that deleting 100,000 files is not timed.
                out
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, batch);
criterion_main!(benches);
