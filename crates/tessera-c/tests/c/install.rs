//! The library as a C project gets it: `make install` into a temporary prefix (the debug
//! build this test made: no second build), then `examples/verify_license.c` compiled with
//! the vendor's documented `cc ... $(pkg-config --cflags --libs tessera)` against the shared
//! library and run under valgrind; the SONAME, the links, the exported symbols; a header from
//! another version refused at start-up in one sentence; and the static link
//! `pkg-config --static` gives.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tessera_testkit::{Vendor, have};

use super::{library, under_valgrind};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `script` run by `sh` with `PKG_CONFIG_PATH` on the prefix, as a vendor's build runs it;
/// it must succeed.
fn sh(prefix: &Path, script: &str) -> String {
    let output = Command::new("sh")
        .args(["-c", script])
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
        .output()
        .expect("run sh");
    assert!(output.status.success(), "`{script}` failed:\n{}", said(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Compiles the example with `flags_before` and `flags_after` around it (a shell fragment, as
/// in docs/INTEGRATION.md), its trust from `include`, into `out`.
fn build_example(prefix: &Path, include: &Path, flags_before: &str, flags_after: &str, out: &Path) {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/verify_license.c");
    sh(
        prefix,
        &format!(
            "cc -std=c11 -Wall -Wextra -Werror -g -o '{}' {flags_before} -I '{}' '{}' {flags_after}",
            out.display(),
            include.display(),
            example.display()
        ),
    );
}

/// What `readelf -d` says of `file`.
/// `make install` into `prefix` of the libraries this test build made, with the header in
/// `header_dir` (nothing is built again).
fn make_install(prefix: &Path, header_dir: &Path) {
    let built: PathBuf = library().parent().expect("deps dir").to_owned();
    let make = Command::new("make")
        .arg("-C")
        .arg(env!("CARGO_MANIFEST_DIR"))
        .arg("install")
        .arg(format!("PREFIX={}", prefix.display()))
        .arg(format!("BUILT={}", built.display()))
        .arg(format!("HEADER_DIR={}", header_dir.display()))
        .output()
        .expect("run make");
    assert!(make.status.success(), "make install failed:\n{}", said(&make));
}

fn dynamic_section(file: &Path) -> String {
    let output = Command::new("readelf").arg("-d").arg(file).output().expect("run readelf");
    assert!(output.status.success(), "readelf -d {}: {}", file.display(), said(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn make_install_gives_the_shared_and_static_library_pkg_config_finds() {
    let tools = have("gcc", "gcc")
        & have("valgrind", "valgrind")
        & have("make", "make")
        & have("pkg-config", "pkgconf")
        & have("readelf", "binutils")
        & have("nm", "binutils");
    if !tools {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let prefix = dir.path().join("prefix");
    make_install(&prefix, Path::new(env!("TESSERA_C_HEADER_DIR")));

    // The files a C project expects, the shared library's name chain ending at its SONAME.
    let lib = prefix.join("lib");
    let link = |name: &str| std::fs::read_link(lib.join(name)).map(|t| t.display().to_string());
    // The ABI in the SONAME: the major version, before 1.0 the minor too.
    let mut parts = VERSION.split('.');
    let (major, minor) = (parts.next().expect("major"), parts.next().expect("minor"));
    let abi = if major == "0" { format!("0.{minor}") } else { major.to_owned() };
    assert_eq!(link("libtessera.so").ok(), Some(format!("libtessera.so.{abi}")));
    assert_eq!(
        link(&format!("libtessera.so.{abi}")).ok(),
        Some(format!("libtessera.so.{VERSION}"))
    );
    let shared = lib.join(format!("libtessera.so.{VERSION}"));
    for file in [&shared, &lib.join("libtessera.a"), &prefix.join("include/tessera.h")] {
        assert!(file.is_file(), "{} is not installed", file.display());
    }
    let soname = format!("Library soname: [libtessera.so.{abi}]");
    assert!(dynamic_section(&shared).contains(&soname), "{soname} missing");

    // Only the API is exported: every defined dynamic symbol is a `tessera_` call.
    let nm = Command::new("nm").args(["-D", "--defined-only"]).arg(&shared).output().expect("nm");
    assert!(nm.status.success(), "nm: {}", said(&nm));
    let symbols: Vec<String> = String::from_utf8_lossy(&nm.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().nth(2).map(str::to_owned))
        .collect();
    assert!(symbols.iter().any(|s| s == "tessera_version"), "{symbols:?}");
    assert!(symbols.iter().any(|s| s == "tessera_verify_license"), "{symbols:?}");
    let strays: Vec<&String> = symbols.iter().filter(|s| !s.starts_with("tessera_")).collect();
    assert!(strays.is_empty(), "exported besides the API: {strays:?}");

    // pkg-config knows it, at the workspace's version.
    assert_eq!(sh(&prefix, "pkg-config --modversion tessera").trim(), VERSION);

    // The example, as a vendor builds it, against the shared library.
    let vendor = Vendor::new();
    let trust = vendor.trust_text();
    let literal: String = trust.lines().map(|l| format!("\"{l}\\n\"\n")).collect();
    std::fs::write(dir.path().join("vendor_trust.inc"), literal).expect("inc");
    let (_, license) = vendor.license(2, None);
    let license_path = dir.path().join("acme.license");
    std::fs::write(&license_path, license).expect("license");
    let example = dir.path().join("verify_license");
    build_example(&prefix, dir.path(), "", "$(pkg-config --cflags --libs tessera)", &example);
    let needed = format!("Shared library: [libtessera.so.{abi}]");
    assert!(dynamic_section(&example).contains(&needed), "the example does not load {needed}");
    let mut valgrind = Command::new("valgrind");
    valgrind.env("LD_LIBRARY_PATH", &lib);
    let output = under_valgrind(valgrind, &example, &[&license_path.display().to_string()]);
    assert!(
        output.status.success(),
        "the example on the shared library (exit {:?}; 99: valgrind found errors or leaks):\n{}",
        output.status.code(),
        said(&output)
    );
    assert!(said(&output).contains("license valid: "), "{}", said(&output));
    assert!(said(&output).contains(&format!("(Tessera {VERSION})")), "{}", said(&output));

    // Compiled with a header from another version (the next minor one), the program stops at
    // start-up and says why in one sentence.
    let other = dir.path().join("other-header");
    std::fs::create_dir(&other).expect("dir");
    let header = std::fs::read_to_string(prefix.join("include/tessera.h")).expect("header");
    let minor: u64 = VERSION.split('.').nth(1).and_then(|m| m.parse().ok()).expect("minor");
    let next = format!("{major}.{}.0", minor + 1);
    let from = format!("#define TESSERA_VERSION \"{VERSION}\"");
    assert!(header.contains(&from), "the header names its version: {from}");
    let to = format!("#define TESSERA_VERSION \"{next}\"");
    std::fs::write(other.join("tessera.h"), header.replace(&from, &to)).expect("header");
    let mismatched = dir.path().join("mismatched");
    let include = format!("-I '{}'", other.display());
    build_example(
        &prefix,
        dir.path(),
        &include,
        "$(pkg-config --cflags --libs tessera)",
        &mismatched,
    );
    let output = Command::new(&mismatched)
        .arg(&license_path)
        .env("LD_LIBRARY_PATH", &lib)
        .output()
        .expect("run the example");
    assert_eq!(output.status.code(), Some(70), "{}", said(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "header_version: the program was compiled with tessera.h {next} but the library \
             loaded is {VERSION}: install the library of the header's version, or rebuild the \
             program with the tessera.h installed with this library\n"
        )
    );

    // Static: the archive and what `pkg-config --static` adds; no libtessera.so is needed.
    let static_example = dir.path().join("verify_license_static");
    build_example(
        &prefix,
        dir.path(),
        "",
        "$(pkg-config --cflags tessera) \"$(pkg-config --variable=libdir tessera)/libtessera.a\" \
         -Wl,--as-needed $(pkg-config --static --libs tessera)",
        &static_example,
    );
    assert!(!dynamic_section(&static_example).contains("libtessera"), "linked the shared library");
    let output = Command::new(&static_example).arg(&license_path).output().expect("run");
    assert!(output.status.success(), "the static example: {}", said(&output));
    assert!(said(&output).contains("license valid: "), "{}", said(&output));
}

/// A build with fewer calls (its header says `TESSERA_LIBRARY "tessera-verify"`) installs
/// under its own name, never as `libtessera`: a program built against the full header could
/// otherwise load it and die at its first call with an undefined symbol.
#[test]
fn a_smaller_build_installs_under_its_own_name() {
    if !(have("make", "make") & have("pkg-config", "pkgconf")) {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let headers = dir.path().join("headers");
    std::fs::create_dir(&headers).expect("dir");
    let full = std::fs::read_to_string(Path::new(env!("TESSERA_C_HEADER_DIR")).join("tessera.h"))
        .expect("header");
    let from = "#define TESSERA_LIBRARY \"tessera\"";
    assert!(full.contains(from), "the header names its library: {from}");
    std::fs::write(
        headers.join("tessera.h"),
        full.replace(from, "#define TESSERA_LIBRARY \"tessera-verify\""),
    )
    .expect("header");
    let prefix = dir.path().join("prefix");
    make_install(&prefix, &headers);
    let lib = prefix.join("lib");
    for file in [
        lib.join(format!("libtessera-verify.so.{VERSION}")),
        lib.join("libtessera-verify.a"),
        lib.join("pkgconfig/tessera-verify.pc"),
        prefix.join("include/tessera-verify/tessera.h"),
    ] {
        assert!(file.is_file(), "{} is not installed", file.display());
    }
    for name in ["libtessera.so", "libtessera.a", "pkgconfig/tessera.pc"] {
        assert!(!lib.join(name).exists(), "{name} installed for a smaller build");
    }
    assert!(!prefix.join("include/tessera.h").exists(), "the smaller header took the full name");
    let flags = sh(&prefix, "pkg-config --cflags --libs tessera-verify");
    assert!(flags.contains("-ltessera-verify"), "{flags}");
    assert!(flags.contains("include/tessera-verify"), "{flags}");
}
