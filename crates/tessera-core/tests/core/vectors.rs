// Over 500 lines on purpose: the vectors' generator and the checks of the same files, kept
// together so that they cannot drift apart unseen.
//! The license test vectors in `tests/vectors/license/`: one file a case, each with a header
//! saying what verifying it must give. `docs/FORMAT.md` lists them.
//!
//! The files are the source of truth for `every_vector_gives_its_expected_status`. They are
//! made by `generate()` below; `vectors_are_up_to_date` fails when the two drift apart, and
//! `TESSERA_WRITE_VECTORS=1 cargo test -p tessera-core --test core vectors` rewrites them.

use std::collections::BTreeMap;
use std::fs;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tessera_core::Status;
use tessera_core::armor::{Envelope, Kind};
use tessera_core::license::{Expectations, sign};
use tessera_core::trust::{TrustSet, TrustedKey};

use crate::helpers::{claims, other_key, time, vectors_dir, vendor_key};

/// One vector: the header fields and the exact license bytes.
struct Case {
    name: &'static str,
    about: &'static str,
    expect: Status,
    at: &'static str,
    trust: &'static str,
    product: Option<&'static str>,
    problem: Option<&'static str>,
    bytes: Vec<u8>,
}

const AT: &str = "2027-06-01T00:00:00Z";

fn case(
    name: &'static str,
    about: &'static str,
    expect: Status,
    bytes: impl Into<Vec<u8>>,
) -> Case {
    Case {
        name,
        about,
        expect,
        at: AT,
        trust: "vendor.pub",
        product: None,
        problem: None,
        bytes: bytes.into(),
    }
}

impl Case {
    fn at(mut self, at: &'static str) -> Self {
        self.at = at;
        self
    }
    fn trust(mut self, trust: &'static str) -> Self {
        self.trust = trust;
        self
    }
    fn problem(mut self, problem: &'static str) -> Self {
        self.problem = Some(problem);
        self
    }
    fn product(mut self, product: &'static str) -> Self {
        self.product = Some(product);
        self
    }

    fn render(&self) -> Vec<u8> {
        let mut out = format!(
            "about: {}\nexpect: {}\nat: {}\ntrust: {}\n",
            self.about, self.expect, self.at, self.trust
        );
        if let Some(p) = self.product {
            out.push_str(&format!("product: {p}\n"));
        }
        if let Some(p) = self.problem {
            out.push_str(&format!("problem: {p}\n"));
        }
        out.push_str("---\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.bytes);
        bytes
    }
}

/// The reference claims as a JSON value, to be bent into shapes the sealer never writes.
fn claims_value() -> Value {
    serde_json::to_value(claims()).expect("claims to json")
}

fn wrapper(body: Value) -> Value {
    json!({ "v": 1, "alg": "Ed25519", "kind": "license", "key_id": vendor_key().key_id().to_string(), "body": body })
}

/// Signs arbitrary payload bytes with the vendor key, exactly as the sealer would.
fn signed_payload(payload: &[u8]) -> String {
    Envelope::sign_payload(Kind::License, &vendor_key(), payload).to_armored()
}

fn signed_json(value: &Value) -> String {
    signed_payload(&serde_json::to_vec(value).expect("json"))
}

fn valid() -> String {
    sign(&claims(), &vendor_key()).expect("sign")
}

/// Replaces the first occurrence of `from` in the armored text.
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not in the license");
    text.replacen(from, to, 1)
}

/// Flips one character of a base64 line to another base64 character.
fn flip_char(text: &str, line: usize, column: usize) -> String {
    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
    let target = &mut lines[line];
    let old = target.as_bytes()[column];
    let new = if old == b'A' { 'B' } else { 'A' };
    target.replace_range(column..=column, &new.to_string());
    lines.join("\n")
}

/// The base64 character one step along the alphabet: same top bits, a non-zero low bit,
/// so a lenient decoder would read the same bytes.
fn next_b64(c: u8) -> char {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let i = alphabet.iter().position(|&a| a == c).expect("base64 char");
    char::from(alphabet[i + 1])
}

fn generate() -> Vec<Case> {
    let valid = valid();
    let lines: Vec<&str> = valid.split('\n').collect();
    let payload_first = 6;
    let end_line = lines.iter().position(|l| l.starts_with("-----END")).expect("end");
    let mut cases = vec![
        case(
            "valid",
            "the reference license, checked inside its validity",
            Status::Valid,
            valid.clone(),
        ),
        case(
            "valid-first-second",
            "valid from its first second (not_before is inclusive)",
            Status::Valid,
            valid.clone(),
        )
        .at("2027-01-01T00:00:00Z"),
        case(
            "valid-last-second",
            "valid through its last second (expiry is inclusive)",
            Status::Valid,
            valid.clone(),
        )
        .at("2027-12-31T23:59:59Z"),
        case(
            "valid-no-final-newline",
            "the final newline is optional",
            Status::Valid,
            valid.trim_end_matches('\n'),
        ),
        case(
            "valid-second-trusted-key",
            "a trust set of several keys picks the one named by Key-Id",
            Status::Valid,
            valid.clone(),
        )
        .trust("vendor-and-other.pub"),
        case("not-yet-valid", "checked before not_before", Status::NotYetValid, valid.clone())
            .at("2026-12-31T23:59:59Z"),
        case(
            "expired",
            "checked after expires_at, before terminates_at",
            Status::Expired,
            valid.clone(),
        )
        .at("2028-01-01T00:00:00Z"),
        case("terminated", "checked after terminates_at", Status::Terminated, valid.clone())
            .at("2028-04-01T00:00:00Z"),
        case(
            "wrong-product",
            "the verifier expects another product",
            Status::WrongProduct,
            valid.clone(),
        )
        .product("other-product"),
        case(
            "unknown-key",
            "signed by a key that is not in the trust set",
            Status::UnknownKey,
            sign(&claims(), &other_key()).expect("sign"),
        )
        .problem("not in the trust set"),
        case(
            "distrusted-key",
            "the signing key is marked distrusted",
            Status::UnknownKey,
            valid.clone(),
        )
        .trust("vendor-distrusted.pub")
        .problem("distrusted"),
        case(
            "key-window-ended",
            "the signing key was trusted only until 2027-03-31",
            Status::UnknownKey,
            valid.clone(),
        )
        .trust("vendor-until-2027-03-31.pub")
        .problem("trusted only until"),
        case(
            "tampered-payload",
            "one base64 character of the payload changed",
            Status::BadSignature,
            flip_char(&valid, payload_first + 2, 10),
        ),
        case(
            "tampered-signature",
            "one base64 character of the signature changed",
            Status::BadSignature,
            flip_char(&valid, 4, 20),
        ),
        case(
            "swapped-key-id",
            "Key-Id names another trusted key than the one that signed",
            Status::BadSignature,
            edit(&valid, &vendor_key().key_id().to_string(), &other_key().key_id().to_string()),
        )
        .trust("vendor-and-other.pub"),
        case(
            "swapped-body",
            "a validly signed payload of another license grafted under this signature",
            Status::BadSignature,
            {
                let mut other = claims();
                other.runners = 500;
                let other_text = sign(&other, &vendor_key()).expect("sign");
                let sig_line = lines[4];
                let other_lines: Vec<&str> = other_text.split('\n').collect();
                edit(&other_text, other_lines[4], sig_line)
            },
        ),
        case("empty", "an empty file", Status::Malformed, Vec::new()).problem("empty"),
        case("binary", "binary data", Status::Malformed, vec![0x00, 0xff, 0x7f, 0x80, 0x1b, 0x5b])
            .problem("not ASCII"),
        case("public-key-file", "a public key file given as a license", Status::Malformed, {
            tessera_core::keyfile::public(&vendor_key())
        })
        .problem("BEGIN TESSERA LICENSE"),
        case(
            "wrong-kind",
            "a validly signed receipt is not a license",
            Status::Malformed,
            Envelope::seal(Kind::Receipt, &vendor_key(), &claims()),
        )
        .problem("RECEIPT"),
        case(
            "unknown-version",
            "format version 2",
            Status::Malformed,
            edit(&valid, "Version: 1", "Version: 2"),
        )
        .problem("version"),
        case(
            "unknown-algorithm",
            "an algorithm this build does not know",
            Status::Malformed,
            edit(&valid, "Algorithm: Ed25519", "Algorithm: Ed448"),
        )
        .problem("algorithm"),
        case(
            "lower-case-key-id",
            "key ids are upper-case hex only",
            Status::Malformed,
            edit(
                &valid,
                &vendor_key().key_id().to_string(),
                &vendor_key().key_id().to_string().to_lowercase(),
            ),
        )
        .problem("key id"),
        case(
            "missing-header",
            "the Algorithm header line is missing",
            Status::Malformed,
            edit(&valid, "Algorithm: Ed25519\n", ""),
        )
        .problem("header"),
        case("missing-blank-line", "no empty line after the headers", Status::Malformed, {
            let mut l = lines.clone();
            l.remove(5);
            l.join("\n")
        })
        .problem("empty line"),
        case(
            "truncated",
            "the file ends in the middle of the payload",
            Status::Malformed,
            lines[..payload_first + 3].join("\n"),
        )
        .problem("END"),
        case(
            "trailing-data",
            "text after the END line",
            Status::Malformed,
            format!("{valid}extra\n"),
        )
        .problem("after the END"),
        case(
            "two-final-newlines",
            "an empty line after the END line",
            Status::Malformed,
            format!("{valid}\n"),
        )
        .problem("after the END"),
        case("crlf", "Windows line endings", Status::Malformed, valid.replace('\n', "\r\n"))
            .problem("CR LF"),
        case(
            "rewrapped-payload",
            "payload lines wrapped at 76 instead of 64 characters",
            Status::Malformed,
            {
                let payload: String = lines[payload_first..end_line].concat();
                let rewrapped: Vec<String> = payload
                    .as_bytes()
                    .chunks(76)
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect();
                let mut out: Vec<String> =
                    lines[..payload_first].iter().map(|s| s.to_string()).collect();
                out.extend(rewrapped);
                out.extend(lines[end_line..].iter().map(|s| s.to_string()));
                out.join("\n")
            },
        )
        .problem("64 characters"),
        case(
            "short-middle-line",
            "a payload line other than the last is short",
            Status::Malformed,
            {
                let mut l: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
                let first = l[payload_first].clone();
                l[payload_first] = first[..60].to_owned();
                l.insert(payload_first + 1, first[60..].to_owned());
                l.join("\n")
            },
        )
        .problem("64 characters"),
        case(
            "bad-base64-character",
            "a character outside base64 in the payload",
            Status::Malformed,
            {
                let mut l: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
                l[payload_first + 1].replace_range(3..4, "*");
                l.join("\n")
            },
        )
        .problem("base64"),
        case("signature-too-short", "the signature is 63 bytes", Status::Malformed, {
            let sig = STANDARD.encode([7u8; 63]);
            edit(&valid, lines[4], &format!("Signature: {sig}"))
        })
        .problem("signature"),
        case("empty-payload", "no payload lines at all", Status::Malformed, {
            let mut l = lines[..payload_first].to_vec();
            l.extend_from_slice(&lines[end_line..]);
            l.join("\n")
        })
        .problem("no payload"),
    ];

    // Non-canonical base64: same decoded bytes to a lenient decoder, so the signature
    // would still verify; the strict parser refuses the spelling.
    let mut padded = serde_json::to_vec(&wrapper(claims_value())).expect("json");
    while padded.len() % 3 != 1 {
        padded.push(b' ');
    }
    let text = signed_payload(&padded);
    cases.push(case(
        "valid-json-whitespace",
        "signed bytes need not be compact JSON: the signature covers the bytes as they are",
        Status::Valid,
        text.clone(),
    ));
    let last = text.split('\n').rev().nth(2).expect("last payload line").to_owned();
    let c = last.as_bytes()[last.len() - 3];
    let mut noncanonical = last.clone();
    noncanonical.replace_range(last.len() - 3..last.len() - 2, &next_b64(c).to_string());
    cases.push(
        case(
            "noncanonical-payload-base64",
            "the payload's last character before the padding has non-zero unused bits",
            Status::Malformed,
            edit(&text, &last, &noncanonical),
        )
        .problem("base64"),
    );
    let sig_line = lines[4];
    let sig_c = sig_line.as_bytes()[sig_line.len() - 3];
    let mut noncanonical_sig = sig_line.to_owned();
    noncanonical_sig
        .replace_range(sig_line.len() - 3..sig_line.len() - 2, &next_b64(sig_c).to_string());
    cases.push(
        case(
            "noncanonical-signature-base64",
            "the signature's last character before the padding has non-zero unused bits",
            Status::Malformed,
            edit(&valid, sig_line, &noncanonical_sig),
        )
        .problem("signature"),
    );

    // Validly signed payloads that the strict claim parser must still refuse.
    let mut signed_bad = |name, about, problem, bend: &dyn Fn(&mut Value)| {
        let mut value = wrapper(claims_value());
        bend(&mut value);
        cases.push(case(name, about, Status::Malformed, signed_json(&value)).problem(problem));
    };
    signed_bad("unknown-claim", "a claim this version does not define", "unknown field", &|v| {
        v["body"]["colour"] = json!("blue");
    });
    signed_bad(
        "unknown-wrapper-field",
        "an unknown field beside the body",
        "unknown field",
        &|v| {
            v["comment"] = json!("hi");
        },
    );
    signed_bad("missing-claim", "the runner limit is missing", "missing field", &|v| {
        v["body"].as_object_mut().expect("object").remove("runners");
    });
    signed_bad("payload-version-mismatch", "the signed payload says version 2", "version", &|v| {
        v["v"] = json!(2);
    });
    signed_bad("payload-kind-mismatch", "the signed payload says it is a receipt", "kind", &|v| {
        v["kind"] = json!("receipt");
    });
    signed_bad("payload-key-id-mismatch", "the signed payload names another key", "key id", &|v| {
        v["key_id"] = json!(other_key().key_id().to_string());
    });
    signed_bad("runners-not-a-number", "runners as a string", "invalid type", &|v| {
        v["body"]["runners"] = json!("5");
    });
    signed_bad("runners-negative", "a negative runner limit", "invalid value", &|v| {
        v["body"]["runners"] = json!(-1);
    });
    signed_bad("runners-too-many", "more runners than the format allows", "runners", &|v| {
        v["body"]["runners"] = json!(2_000_000);
    });
    signed_bad("expiry-before-start", "expires_at before not_before", "not_before", &|v| {
        v["body"]["expires_at"] = json!(time("2026-06-01T00:00:00Z").as_unix());
    });
    signed_bad(
        "termination-before-expiry",
        "terminates_at before expires_at",
        "terminates_at",
        &|v| {
            v["body"]["terminates_at"] = json!(time("2027-06-01T00:00:00Z").as_unix());
        },
    );
    signed_bad("time-out-of-range", "a time before 1970", "outside", &|v| {
        v["body"]["issued_at"] = json!(-5);
    });
    signed_bad("noncanonical-license-key", "the license key in lower case", "canonical", &|v| {
        let key = v["body"]["key"].as_str().expect("key").to_lowercase();
        v["body"]["key"] = json!(key);
    });
    signed_bad(
        "mistyped-license-key",
        "a license key whose check characters fail",
        "mistyped",
        &|v| {
            let mut key = v["body"]["key"].as_str().expect("key").to_owned();
            let swapped = if key.starts_with('Z') { "Y" } else { "Z" };
            key.replace_range(0..1, swapped);
            v["body"]["key"] = json!(key);
        },
    );
    signed_bad("bad-product-id", "a product id with spaces and capitals", "product", &|v| {
        v["body"]["product"] = json!("Acme Hub");
    });
    signed_bad("duplicate-feature", "a feature listed twice", "twice", &|v| {
        v["body"]["features"] = json!(["sso", "sso"]);
    });
    // Absent is spelled one way: the field left out. `null` is not a value, for any
    // optional claim.
    for (name, claim) in [
        ("null-terminates-at", "terminates_at"),
        ("null-features", "features"),
        ("null-portal-url", "portal_url"),
        ("null-fingerprint", "fingerprint"),
    ] {
        signed_bad(name, "an optional claim given as null instead of left out", "null", &|v| {
            v["body"][claim] = serde_json::Value::Null;
        });
    }
    signed_bad(
        "portal-url-with-credentials",
        "a portal URL carrying a password",
        "credentials",
        &|v| {
            v["body"]["portal_url"] = json!("https://user:pw@portal.example.com");
        },
    );
    signed_bad("ping-interval-zero", "a ping interval of zero", "ping_interval", &|v| {
        v["body"]["ping_interval_secs"] = json!(0);
    });
    // serde_json keeps the last of two equal keys in a Value, so build the bytes by hand.
    let body = serde_json::to_string(&claims_value()).expect("json");
    let duplicated = body.replacen("\"runners\":5", "\"runners\":5,\"runners\":500", 1);
    let dup_payload = format!(
        "{{\"v\":1,\"alg\":\"Ed25519\",\"kind\":\"license\",\"key_id\":\"{}\",\"body\":{duplicated}}}",
        vendor_key().key_id()
    );
    cases.push(
        case(
            "duplicate-claim",
            "the runner limit given twice",
            Status::Malformed,
            signed_payload(dup_payload.as_bytes()),
        )
        .problem("duplicate field"),
    );
    cases.push(
        case(
            "not-json",
            "validly signed bytes that are not JSON",
            Status::Malformed,
            signed_payload(b"runners=5"),
        )
        .problem("payload"),
    );
    cases
}

/// Trust files the vectors name, by file name.
fn trust_files() -> BTreeMap<&'static str, String> {
    let vendor = vendor_key().public_key().clone();
    let other = other_key().public_key().clone();
    let mut windowed = TrustedKey::always(vendor.clone());
    windowed.not_after = Some(time("2027-03-31T23:59:59Z"));
    let mut distrusted = TrustedKey::always(vendor.clone());
    distrusted.distrusted = true;
    let file = |keys: Vec<TrustedKey>| {
        let mut set = TrustSet::new();
        keys.into_iter().for_each(|k| set.add(k).expect("add"));
        format!("# test keys made from public seeds: for test vectors only\n{set}")
    };
    BTreeMap::from([
        ("vendor.pub", file(vec![TrustedKey::always(vendor.clone())])),
        (
            "vendor-and-other.pub",
            file(vec![TrustedKey::always(vendor.clone()), TrustedKey::always(other)]),
        ),
        ("vendor-distrusted.pub", file(vec![distrusted])),
        ("vendor-until-2027-03-31.pub", file(vec![windowed])),
    ])
}

#[test]
fn vectors_are_up_to_date() {
    let dir = vectors_dir();
    let write = std::env::var_os("TESSERA_WRITE_VECTORS").is_some();
    let mut expected: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for case in generate() {
        expected.insert(format!("license/{}.vector", case.name), case.render());
    }
    for (name, text) in trust_files() {
        expected.insert(format!("trust/{name}"), text.into_bytes());
    }
    if write {
        for sub in ["license", "trust"] {
            let _ = fs::remove_dir_all(dir.join(sub));
            fs::create_dir_all(dir.join(sub)).expect("mkdir");
        }
        for (name, bytes) in &expected {
            fs::write(dir.join(name), bytes).expect("write vector");
        }
    }
    let mut found = BTreeMap::new();
    for sub in ["license", "trust"] {
        for entry in fs::read_dir(dir.join(sub)).expect("vectors directory") {
            let entry = entry.expect("entry");
            let name = format!("{sub}/{}", entry.file_name().to_string_lossy());
            found.insert(name, fs::read(entry.path()).expect("read vector"));
        }
    }
    let stale: Vec<&String> = expected
        .keys()
        .chain(found.keys())
        .filter(|name| expected.get(*name) != found.get(*name))
        .collect();
    assert!(
        stale.is_empty(),
        "test vectors differ from the generator: {stale:?}; rerun with TESSERA_WRITE_VECTORS=1 and review the diff"
    );
}

/// Reads a vector file: header lines up to `---`, then the exact license bytes.
fn read_vector(bytes: &[u8]) -> (BTreeMap<String, String>, &[u8]) {
    let split =
        bytes.windows(5).position(|w| w == b"\n---\n").expect("vector header ends with ---");
    let header = std::str::from_utf8(&bytes[..split]).expect("header is text");
    let fields = header
        .lines()
        .map(|line| {
            let (k, v) = line.split_once(": ").expect("header line is `key: value`");
            (k.to_owned(), v.to_owned())
        })
        .collect();
    (fields, &bytes[split + 5..])
}

#[test]
fn every_vector_gives_its_expected_status() {
    let dir = vectors_dir();
    let mut checked = 0;
    let mut entries: Vec<_> = fs::read_dir(dir.join("license"))
        .expect("vectors")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let bytes = fs::read(&path).expect("read vector");
        let (header, license) = read_vector(&bytes);
        let name = path.file_name().expect("name").to_string_lossy().into_owned();
        let trust_bytes = fs::read(dir.join("trust").join(&header["trust"])).expect("trust file");
        let trust = TrustSet::parse(&trust_bytes).expect("trust set");
        let expect = Expectations {
            product: header.get("product").map(|p| p.parse().expect("product")),
            fingerprint: None,
        };
        let verdict = tessera_core::verify(license, &trust, time(&header["at"]), &expect);
        let wanted: Status = header["expect"].parse().expect("status word");
        assert_eq!(verdict.status(), wanted, "{name}: {:?}", verdict.problem());
        if let Some(problem) = header.get("problem") {
            let said = verdict.problem().map(ToString::to_string).unwrap_or_default();
            assert!(said.contains(problem.as_str()), "{name}: {said:?} should mention {problem:?}");
        }
        // Claims are shown only once a trusted signature covers them.
        let signed_ok =
            !matches!(wanted, Status::Malformed | Status::BadSignature | Status::UnknownKey);
        assert_eq!(verdict.claims().is_some(), signed_ok, "{name}");
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} vectors found");
}

#[test]
fn oversized_input_is_refused_before_parsing() {
    let mut big = valid().into_bytes();
    big.resize(tessera_core::armor::MAX_ARMORED_LEN + 1, b'A');
    let trust = TrustSet::single(vendor_key().public_key().clone());
    let verdict = tessera_core::verify(&big, &trust, time(AT), &Expectations::default());
    assert_eq!(verdict.status(), Status::Malformed);
    assert!(verdict.problem().expect("problem").to_string().contains("limit"));
}

#[test]
fn license_ids_are_version_7_and_sort_by_issue_time() {
    use tessera_core::license::LicenseId;
    let earlier = time("2026-12-15T09:30:00Z");
    let later = time("2026-12-15T09:30:01Z");
    let a = LicenseId::generate(earlier).expect("id");
    let b = LicenseId::generate(earlier).expect("id");
    assert_ne!(a, b, "74 random bits make each id unique");
    assert_eq!(a.as_uuid().get_version_num(), 7);
    // Whatever the random bits, a later second sorts after, as text too (the portal's order).
    let first = LicenseId::new(earlier, [0xff; 10]);
    let second = LicenseId::new(later, [0x00; 10]);
    assert!(first.to_string() < second.to_string(), "{first} then {second}");
    // The issue second is readable from the id: 2026-12-15T09:30:00Z in milliseconds.
    let millis = format!("{:012x}", 1_797_327_000_000u64);
    let text = first.to_string();
    assert_eq!((&text[..8], &text[9..13]), (&millis[..8], &millis[8..]));
    // Readers accept ids of any version (licenses issued before version 7 ids).
    let v4: LicenseId = "6f1c1f1e-3a5b-4c1d-9e2f-0a1b2c3d4e5f".parse().expect("v4 id");
    assert_eq!(v4.as_uuid().get_version_num(), 4);
}

#[test]
fn verifying_many_at_once_gives_each_vector_its_own_verdict() {
    use tessera_core::license::LicenseFile;
    let dir = vectors_dir();
    // Vectors that parse, grouped by what they are checked against.
    // (trust file, time, product) → (vector name, file)
    type Against = (String, String, Option<String>);
    let mut groups: BTreeMap<Against, Vec<(String, LicenseFile)>> = BTreeMap::new();
    for entry in fs::read_dir(dir.join("license")).expect("vectors") {
        let path = entry.expect("entry").path();
        let bytes = fs::read(&path).expect("read vector");
        let (header, license) = read_vector(&bytes);
        let Ok(file) = LicenseFile::parse(license) else { continue };
        let name = path.file_name().expect("name").to_string_lossy().into_owned();
        let group = (header["trust"].clone(), header["at"].clone(), header.get("product").cloned());
        groups.entry(group).or_default().push((name, file));
    }
    let mut bad_in_a_batch = 0;
    for ((trust, at, product), files) in &groups {
        let trust_bytes = fs::read(dir.join("trust").join(trust)).expect("trust file");
        let trust = TrustSet::parse(&trust_bytes).expect("trust set");
        let expect = Expectations {
            product: product.as_ref().map(|p| p.parse().expect("product")),
            fingerprint: None,
        };
        let only: Vec<_> = files.iter().map(|(_, f)| f.clone()).collect();
        let many = LicenseFile::verify_many(&only, &trust, time(at), &expect);
        assert_eq!(many.len(), files.len());
        for ((name, file), verdict) in files.iter().zip(&many) {
            let alone = file.verify(&trust, time(at), &expect);
            assert_eq!(verdict.status(), alone.status(), "{name}");
            assert_eq!(
                verdict.problem().map(ToString::to_string),
                alone.problem().map(ToString::to_string),
                "{name}"
            );
            if files.len() > 1 && alone.status() == Status::BadSignature {
                bad_in_a_batch += 1;
            }
        }
    }
    assert!(bad_in_a_batch > 0, "no batch held a bad signature: the fallback went untested");
}
