use crate::helpers::Sandbox;

const ORDERS: &str = "\
org,product,runners,expires,features,order_id
Acme Corp,acme-hub,5,2030-12-31,sso;audit,A-1
\"Globex, Inc.\",acme-hub,2,2029-06-30,,A-2
Initech,acme-hub,10,2031-01-31,reports,A-3
";

fn manifest_rows(sandbox: &Sandbox) -> Vec<csv::StringRecord> {
    let mut reader = csv::Reader::from_path(sandbox.path("out/manifest.csv")).expect("manifest");
    assert_eq!(
        reader.headers().expect("header").iter().collect::<Vec<_>>(),
        ["row_key", "id", "key", "org", "product", "file"]
    );
    reader.records().map(|r| r.expect("row")).collect()
}

fn batch(sandbox: &Sandbox, csv: &str) -> crate::helpers::Run {
    sandbox.run(&[
        "issue",
        "--key",
        "keys/signing.key",
        "--batch",
        csv,
        "--out-dir",
        "out",
        "--json",
    ])
}

#[test]
fn a_batch_issues_one_verifiable_license_per_row_and_reruns_issue_nothing_twice() {
    let sandbox = Sandbox::new();
    sandbox.keygen();
    sandbox.write("orders.csv", ORDERS);
    let run = batch(&sandbox, "orders.csv").ok();
    assert_eq!((run.json()["issued"].as_u64(), run.json()["skipped"].as_u64()), (Some(3), Some(0)));
    assert!(run.stderr.is_empty(), "no progress bar when not on a terminal: {:?}", run.stderr);
    let rows = manifest_rows(&sandbox);
    assert_eq!(rows.len(), 3);
    assert_eq!(&rows[1][3], "Globex, Inc.");
    for row in &rows {
        let file = format!("out/{}", &row[5]);
        let verified =
            sandbox.run(&["verify", "--trust", "keys/signing.pub", &file, "--json"]).ok();
        assert_eq!(verified.json()["claims"]["id"].as_str(), Some(&row[1]));
        assert_eq!(verified.json()["claims"]["key"].as_str(), Some(&row[2]));
        assert_eq!(verified.json()["claims"]["org"].as_str(), Some(&row[3]));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode =
            std::fs::metadata(sandbox.path("out/manifest.csv")).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the manifest holds license keys");
        for row in &rows {
            let file = sandbox.path(&format!("out/{}", &row[5]));
            let mode = std::fs::metadata(&file).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{} holds a license key", file.display());
        }
    }

    let again = batch(&sandbox, "orders.csv").ok();
    assert_eq!(
        (again.json()["issued"].as_u64(), again.json()["skipped"].as_u64()),
        (Some(0), Some(3))
    );
    assert_eq!(manifest_rows(&sandbox), rows, "nothing issued twice");

    sandbox.write("orders.csv", format!("{ORDERS}Umbrella,acme-hub,1,2030-01-01,,A-4\n"));
    let more = batch(&sandbox, "orders.csv").ok();
    assert_eq!(
        (more.json()["issued"].as_u64(), more.json()["skipped"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(manifest_rows(&sandbox).len(), 4);
    let licenses = std::fs::read_dir(sandbox.path("out")).expect("ls").count() - 1;
    assert_eq!(licenses, 4);
}

#[test]
fn rows_without_order_ids_are_recognised_on_rerun() {
    let sandbox = Sandbox::new();
    sandbox.keygen();
    sandbox.write(
        "orders.csv",
        "org,product,runners,expires\nA,p,1,2030-01-01\nA,p,1,2030-01-01\nB,p,2,2030-01-01\n",
    );
    batch(&sandbox, "orders.csv").ok();
    let rerun = batch(&sandbox, "orders.csv").ok();
    assert_eq!(
        (rerun.json()["issued"].as_u64(), rerun.json()["skipped"].as_u64()),
        (Some(0), Some(3))
    );
    assert_eq!(manifest_rows(&sandbox).len(), 3, "identical rows are two orders");
}

#[test]
fn command_line_options_fill_empty_cells() {
    let sandbox = Sandbox::new();
    sandbox.keygen();
    sandbox.write("orders.csv", "org,product,runners,expires\nA,,1,2030-01-01\n");
    sandbox
        .run(&[
            "issue",
            "--key",
            "keys/signing.key",
            "--batch",
            "orders.csv",
            "--out-dir",
            "out",
            "--product",
            "acme-hub",
            "--portal-url",
            "https://portal.example.com",
        ])
        .ok();
    let file = format!("out/{}", &manifest_rows(&sandbox)[0][5]);
    let run = sandbox.run(&["inspect", &file, "--json"]).ok();
    assert_eq!(run.json()["claims"]["product"], "acme-hub");
    assert_eq!(run.json()["claims"]["portal_url"], "https://portal.example.com");
}

#[test]
fn a_malformed_row_is_reported_with_its_line_before_anything_is_written() {
    let sandbox = Sandbox::new();
    sandbox.keygen();
    sandbox.write("orders.csv", format!("{ORDERS}Hooli,acme-hub,many,2030-01-01,,A-4\n"));
    batch(&sandbox, "orders.csv").fails(5, "orders.csv line 5: runners");
    assert!(!sandbox.exists("out"), "nothing written");

    sandbox.write("bad-header.csv", "org,product,seats,expires\n");
    batch(&sandbox, "bad-header.csv").fails(5, "seats");
    sandbox.write("ragged.csv", "org,product,runners,expires\nA,p,1\n");
    batch(&sandbox, "ragged.csv").fails(5, "line 2");
    sandbox.write("empty.csv", "org,product,runners,expires\n");
    batch(&sandbox, "empty.csv").fails(5, "no orders");
    batch(&sandbox, "missing.csv").fails(3, "missing.csv");
    sandbox.write("binary.csv", [0xffu8, 0x00, 0xfe, b'\n', 0x01]);
    let run = batch(&sandbox, "binary.csv");
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(!sandbox.exists("out"));
}

#[test]
fn a_foreign_manifest_is_left_untouched() {
    let sandbox = Sandbox::new();
    sandbox.keygen();
    sandbox.write("orders.csv", ORDERS);
    std::fs::create_dir(sandbox.path("out")).expect("mkdir");
    sandbox.write("out/manifest.csv", "name,amount\nx,1\n");
    batch(&sandbox, "orders.csv").fails(5, "manifest");
    assert_eq!(sandbox.read("out/manifest.csv"), "name,amount\nx,1\n");
}

#[test]
fn a_manifest_line_cut_short_by_a_crash_is_repaired_and_its_row_reissued() {
    let sandbox = Sandbox::new();
    sandbox.keygen();
    sandbox.write("orders.csv", ORDERS);
    batch(&sandbox, "orders.csv").ok();
    let manifest = sandbox.read("out/manifest.csv");
    let cut = manifest.trim_end_matches('\n');
    let cut = &cut[..cut.len() - 10];
    sandbox.write("out/manifest.csv", cut);
    let run = batch(&sandbox, "orders.csv").ok();
    assert_eq!((run.json()["issued"].as_u64(), run.json()["skipped"].as_u64()), (Some(1), Some(2)));
    assert_eq!(manifest_rows(&sandbox).len(), 3);
}
