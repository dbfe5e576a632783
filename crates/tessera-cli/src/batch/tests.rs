use super::*;

fn now() -> UnixTime {
    "2026-11-23T00:00:00Z".parse().expect("time")
}

fn read(csv: &str) -> Result<Vec<Order>, BatchError> {
    read_orders_from(csv.as_bytes(), Path::new("orders.csv"), &RawTerms::default(), now())
}

#[test]
fn a_bad_row_is_reported_with_its_line_and_the_count_of_others() {
    let csv = "org,product,runners,expires\nA,p,1,2027-01-01\nB,p,x,2027-01-01\nC,p,1,never\n";
    let err = read(csv).expect_err("bad rows").to_string();
    assert_eq!(
        err,
        "orders.csv line 3: runners: \"x\" is not a whole number (and 1 more malformed row)"
    );
}

#[test]
fn unknown_and_missing_columns_are_refused() {
    assert!(
        read("org,product,runners\nA,p,1\n").expect_err("missing").to_string().contains("expires")
    );
    assert!(
        read("org,product,runners,expires,colour\n")
            .expect_err("unknown")
            .to_string()
            .contains("colour")
    );
}

#[test]
fn identical_rows_get_distinct_stable_keys_and_order_ids_must_be_unique() {
    let csv = "org,product,runners,expires\nA,p,1,2027-01-01\nA,p,1,2027-01-01\n";
    let first = read(csv).expect("orders");
    let again = read(csv).expect("orders");
    assert_ne!(first[0].row_key, first[1].row_key);
    assert_eq!(first[1].row_key, again[1].row_key);
    let dup = "org,product,runners,expires,order_id\nA,p,1,2027-01-01,7\nB,p,1,2027-01-01,7\n";
    assert!(read(dup).expect_err("dup").to_string().contains("already appears on line 2"));
}

#[test]
fn row_keys_do_not_depend_on_column_order() {
    let a = read("org,product,runners,expires\nA,p,1,2027-01-01\n").expect("a");
    let b = read("expires,runners,product,org\n2027-01-01,1,p,A\n").expect("b");
    assert_eq!(a[0].row_key, b[0].row_key);
}
