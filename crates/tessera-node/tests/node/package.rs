//! The packages as a vendor gets them. The package's directory is copied as a fresh clone has
//! it, with this test build's addon (debug information stripped: it is most of a debug build,
//! and packing it would cost seconds of gzip) put where `npm run package` puts a release
//! build, in npm/linux-x64-gnu. From there: `npm pack` of @tessera/node and of
//! @tessera/node-linux-x64-gnu, `npm publish --dry-run` of both, an install of the two tarballs
//! into an empty project with no network (an unreachable registry, `--offline`, an empty
//! cache), and the example run there on the test kit's scene; then the loader on a machine it
//! has no addon for, and with a missing, damaged or wrong-architecture addon.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use tessera_testkit::{Keystore, Scene, have, in_keystore_session};

use super::{HERE, built_addon, compile, said, tsc};

/// The only platform built and tested here: x86_64 Linux with glibc.
const PLATFORM: &str = "linux-x64-gnu";
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// npm with no way to a registry: an unreachable one, offline, a cache and user
/// configuration of its own (none of the machine's), and none of the checkout's overrides.
fn npm(home: &Path, dir: &Path) -> Command {
    let mut command = Command::new("npm");
    command
        .current_dir(dir)
        .env("npm_config_registry", "http://127.0.0.1:9/")
        .env("npm_config_offline", "true")
        .env("npm_config_cache", home.join("npm-cache"))
        .env("npm_config_userconfig", home.join("npmrc"))
        .env("npm_config_audit", "false")
        .env("npm_config_fund", "false")
        .env("npm_config_update_notifier", "false");
    vendor_side(&mut command);
    command
}

/// Node.js as a vendor's product runs it: without the development override of the addon or
/// a module path into this checkout.
fn vendor_side(command: &mut Command) {
    command.env_remove("NAPI_RS_NATIVE_LIBRARY_PATH").env_remove("NODE_PATH");
}

fn succeeds(mut command: Command) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("run {command:?}: {e}"));
    assert!(output.status.success(), "{command:?} failed:\n{}", said(&output));
    said(&output)
}

fn fails(mut command: Command) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("run {command:?}: {e}"));
    assert!(!output.status.success(), "{command:?} succeeded:\n{}", said(&output));
    said(&output)
}

/// Copies the package's directory as a clone holds it: no node_modules, no build output.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == "node_modules" || name == "target" || name.ends_with(".node") {
            continue;
        }
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &to.join(&*name));
        } else {
            std::fs::copy(entry.path(), to.join(&*name)).expect("copy");
        }
    }
}

/// The package's directory with the addon in its platform package, ready to pack and publish.
struct Release {
    dir: tempfile::TempDir,
    /// The copy of crates/tessera-node.
    src: PathBuf,
}

impl Release {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let src = dir.path().join("tessera-node");
        copy_tree(Path::new(HERE), &src);
        let addon = src.join(format!("npm/{PLATFORM}/tessera.{PLATFORM}.node"));
        let stripped = Command::new("strip")
            .arg("--strip-debug")
            .arg("-o")
            .arg(&addon)
            .arg(built_addon())
            .status()
            .is_ok_and(|s| s.success());
        if !stripped {
            std::fs::copy(built_addon(), &addon).expect("copy the addon");
        }
        Release { dir, src }
    }

    fn npm(&self, dir: &Path) -> Command {
        npm(self.dir.path(), dir)
    }

    fn platform_dir(&self, platform: &str) -> PathBuf {
        self.src.join("npm").join(platform)
    }

    /// `npm pack` of a package directory into the release directory, checking that the
    /// tarball holds `files` and nothing else; its path.
    fn pack(&self, package: &Path, files: &[&str]) -> PathBuf {
        let mut pack = self.npm(package);
        pack.args(["pack", "--json", "--pack-destination"]).arg(self.dir.path());
        let output = pack.output().expect("run npm pack");
        assert!(output.status.success(), "npm pack failed:\n{}", said(&output));
        let packed: Value = serde_json::from_slice(&output.stdout).expect("npm pack --json");
        let mut held: Vec<&str> = packed[0]["files"]
            .as_array()
            .expect("files")
            .iter()
            .map(|f| f["path"].as_str().expect("path"))
            .collect();
        held.sort_unstable();
        assert_eq!(held, files, "what {} ships", package.display());
        self.dir.path().join(packed[0]["filename"].as_str().expect("filename"))
    }

    /// Both packages packed and installed into an empty project; the project's directory.
    fn install(&self) -> PathBuf {
        let main = self
            .pack(&self.src, &["LICENSE", "README.md", "index.d.ts", "index.js", "package.json"]);
        let addon = format!("tessera.{PLATFORM}.node");
        let platform = self
            .pack(&self.platform_dir(PLATFORM), &["LICENSE", "README.md", "package.json", &addon]);
        let app = self.dir.path().join("app");
        std::fs::create_dir(&app).expect("app dir");
        std::fs::write(app.join("package.json"), r#"{ "name": "acme-hub", "private": true }"#)
            .expect("package.json");
        let mut install = self.npm(&app);
        install.args(["install", "--offline", "--no-audit", "--no-fund"]).arg(&main).arg(&platform);
        succeeds(install);
        // npm left out the other platforms' packages, which are not for this machine (and
        // could not be fetched anyway).
        let mut installed: Vec<_> = std::fs::read_dir(app.join("node_modules/@tessera"))
            .expect("node_modules/@tessera")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        installed.sort_unstable();
        assert_eq!(installed, ["node", format!("node-{PLATFORM}").as_str()]);
        app.canonicalize().expect("app dir")
    }
}

#[test]
fn the_packages_install_offline_into_an_empty_project_and_run_the_example() {
    if !have("node", "nodejs")
        || !have("npm", "npm")
        || !in_keystore_session(Keystore::KernelKeyring)
    {
        return;
    }
    let Some(tsc) = tsc() else { return };
    let release = Release::new();
    let app = release.install();
    let compiled = release.dir.path().join("ts");
    compile(&tsc, &compiled);
    std::fs::copy(compiled.join("examples/hub.js"), app.join("hub.js")).expect("the example");

    let scene = Scene::new();
    let example = |socket: &Path| {
        let mut node = scene.command("node");
        node.arg("hub.js").arg(socket).current_dir(&app).env("VENDOR_TRUST_FILE", &scene.trust);
        vendor_side(&mut node);
        node.output().expect("run node")
    };
    let said = scene.assert_hub_example(example);
    assert!(said.contains("hub_unreachable"), "{said}");
}

#[test]
fn npm_publish_dry_run_passes_for_both_and_refuses_a_platform_package_without_its_addon() {
    if !have("node", "nodejs") || !have("npm", "npm") {
        return;
    }
    let release = Release::new();
    let publish = |dir: &Path| {
        let mut npm = release.npm(dir);
        npm.args(["publish", "--dry-run"]);
        npm
    };
    let said = succeeds(publish(&release.src));
    assert!(said.contains(&format!("+ @tessera/node@{VERSION}")), "{said}");
    let said = succeeds(publish(&release.platform_dir(PLATFORM)));
    assert!(said.contains(&format!("+ @tessera/node-{PLATFORM}@{VERSION}")), "{said}");
    assert!(said.contains(&format!("tessera.{PLATFORM}.node")), "{said}");

    // A platform package is published by the release workflow on its own platform: the
    // others, here, have no addon, or one of another platform.
    let refused = |platform: &str, why: &str| {
        let said = fails(publish(&release.platform_dir(platform)));
        let expected = format!(
            "@tessera/node-{platform} {VERSION} cannot be published: tessera.{platform}.node {why}."
        );
        assert!(said.contains(&expected), "expected {expected:?} in:\n{said}");
    };
    refused("linux-arm64-gnu", "is missing (npm run package, or napi artifacts, puts it here)");
    let x64 =
        std::fs::read(release.platform_dir(PLATFORM).join(format!("tessera.{PLATFORM}.node")))
            .expect("addon");
    for platform in ["linux-arm64-gnu", "linux-x64-musl"] {
        std::fs::write(
            release.platform_dir(platform).join(format!("tessera.{platform}.node")),
            &x64,
        )
        .expect("addon");
    }
    refused("linux-arm64-gnu", "is built for x64, and the package is for arm64");
    refused("linux-x64-musl", "is linked against glibc, and the package is for musl");

    // The main package lists every platform package at its own version.
    let manifest = release.src.join("package.json");
    let text = std::fs::read_to_string(&manifest).expect("package.json");
    let listed = format!("\"@tessera/node-linux-x64-musl\": \"{VERSION}\"");
    assert!(text.contains(&listed), "{text}");
    std::fs::write(&manifest, text.replace(&listed, "\"@tessera/node-linux-x64-musl\": \"0.0.1\""))
        .expect("package.json");
    let said = fails(publish(&release.src));
    assert!(
        said.contains(&format!(
            "@tessera/node {VERSION} cannot be published: its optionalDependencies"
        )),
        "{said}"
    );
}

/// What `require('@tessera/node')` in `app` throws: its code and message (and that it has no
/// chain of causes); with `pretend` (`darwin-arm64`), as if on that platform.
fn load_error(app: &Path, pretend: Option<&str>) -> (String, String) {
    let mut node = Command::new("node");
    node.current_dir(app);
    vendor_side(&mut node);
    if let Some(platform) = pretend {
        let (os, arch) = platform.split_once('-').expect("os-arch");
        std::fs::write(
            app.join("pretend.js"),
            format!(
                "Object.defineProperty(process, 'platform', {{ value: '{os}' }})\n\
                 Object.defineProperty(process, 'arch', {{ value: '{arch}' }})\n"
            ),
        )
        .expect("pretend.js");
        node.args(["--require", "./pretend.js"]);
    }
    node.args([
        "-e",
        "try { require('@tessera/node'); console.log('{}') } catch (e) { \
         console.log(JSON.stringify({ code: e.code, message: e.message, cause: e.cause })) }",
    ]);
    let output = node.output().expect("run node");
    assert!(output.status.success(), "{}", said(&output));
    let thrown: Value = serde_json::from_slice(&output.stdout).expect("what node said");
    assert!(thrown.get("cause").is_none(), "a chain of causes: {thrown}");
    let field =
        |name: &str| thrown[name].as_str().unwrap_or_else(|| panic!("loaded: {thrown}")).to_owned();
    (field("code"), field("message"))
}

#[test]
fn the_loader_says_in_one_sentence_why_no_addon_loads() {
    if !have("node", "nodejs") || !have("npm", "npm") {
        return;
    }
    let release = Release::new();
    let app = release.install();

    // Installed, it loads, and an ES module imports each export by name.
    std::fs::write(
        app.join("names.mjs"),
        "import * as named from '@tessera/node'\n\
         import { createRequire } from 'node:module'\n\
         const addon = createRequire(import.meta.url)('@tessera/node')\n\
         const names = (o) => Object.keys(o).filter((k) => k !== 'default').sort().join(' ')\n\
         console.log(names(named) === names(addon) ? 'same' : `${names(named)} | ${names(addon)}`)\n",
    )
    .expect("names.mjs");
    let mut node = Command::new("node");
    node.arg("names.mjs").current_dir(&app);
    vendor_side(&mut node);
    assert_eq!(succeeds(node).trim(), "same");

    let unsupported = |platform: &str| {
        format!(
            "@tessera/node {VERSION} has no addon for {platform}: it is built for linux-x64-gnu \
             (x86_64 Linux with glibc), linux-arm64-gnu (arm64 Linux with glibc), linux-x64-musl \
             (x86_64 Linux with musl); run it on one of these (macOS and Windows are planned)."
        )
    };
    for platform in ["darwin-arm64", "darwin-x64", "win32-x64"] {
        let thrown = load_error(&app, Some(platform));
        assert_eq!(thrown, ("unsupported_platform".to_owned(), unsupported(platform)));
    }
    let not_installed = |platform: &str| {
        format!(
            "@tessera/node {VERSION} needs the package @tessera/node-{platform} on {platform}, and \
             it is not installed (npm leaves optional dependencies out with --omit=optional, and \
             when node_modules was installed on another platform): run npm install \
             @tessera/node-{platform}@{VERSION}."
        )
    };
    let thrown = load_error(&app, Some("linux-arm64"));
    assert_eq!(thrown, ("addon_not_loaded".to_owned(), not_installed("linux-arm64-gnu")));

    // The addon damaged, of another architecture, cut short, needing a newer glibc.
    let package = app.join(format!("node_modules/@tessera/node-{PLATFORM}"));
    let file = package.join(format!("tessera.{PLATFORM}.node"));
    let good = std::fs::read(&file).expect("addon");
    let prefix = format!(
        "@tessera/node {VERSION} cannot load the addon of @tessera/node-{PLATFORM} ({}): ",
        file.display()
    );
    let suffix = format!("; reinstall it (npm install @tessera/node-{PLATFORM}@{VERSION}).");
    let cannot_load = |why: &str| format!("{prefix}{why}{suffix}");
    let mut arm64 = good.clone();
    arm64[18..20].copy_from_slice(&183u16.to_le_bytes());
    let glibc = good.windows(11).position(|w| w == b"GLIBC_2.2.5").expect("a glibc version needed");
    let mut newer_glibc = good.clone();
    newer_glibc[glibc..glibc + 11].copy_from_slice(b"GLIBC_9.9.9");
    for (bytes, why) in [
        (
            &b"not an addon\n"[..],
            "it is not a shared library (a damaged or truncated file)".to_owned(),
        ),
        (&arm64[..], "it is built for arm64, and this machine is x64".to_owned()),
        (&good[..good.len() / 2], "it is truncated (a damaged copy)".to_owned()),
    ] {
        std::fs::write(&file, bytes).expect("addon");
        assert_eq!(load_error(&app, None), ("addon_not_loaded".to_owned(), cannot_load(&why)));
    }
    // In the dynamic loader's words, which name the C library's path.
    std::fs::write(&file, &newer_glibc).expect("addon");
    let (code, message) = load_error(&app, None);
    assert_eq!(code, "addon_not_loaded");
    assert!(
        message.starts_with(&prefix)
            && message.ends_with(&suffix)
            && message.contains(&format!(
                "version `GLIBC_9.9.9' not found (required by {})",
                file.display()
            )),
        "{message}"
    );
    std::fs::remove_file(&file).expect("addon");
    assert_eq!(
        load_error(&app, None),
        ("addon_not_loaded".to_owned(), cannot_load("there is no such file"))
    );
    std::fs::write(&file, &good).expect("addon");

    // The platform package of another version.
    let manifest = package.join("package.json");
    let text = std::fs::read_to_string(&manifest).expect("package.json");
    let at = format!("\"version\": \"{VERSION}\"");
    assert!(text.contains(&at), "{text}");
    std::fs::write(&manifest, text.replace(&at, "\"version\": \"0.0.1\"")).expect("package.json");
    assert_eq!(
        load_error(&app, None),
        (
            "addon_not_loaded".to_owned(),
            format!(
                "@tessera/node {VERSION} needs @tessera/node-{PLATFORM} at the same version, and \
                 0.0.1 is installed: reinstall it (npm install @tessera/node-{PLATFORM}@{VERSION})."
            )
        )
    );

    // Not installed at all; uncaught, the vendor's product stops with that sentence once, and
    // no chain of the attempts that led to it.
    std::fs::remove_dir_all(&package).expect("remove the platform package");
    assert_eq!(load_error(&app, None), ("addon_not_loaded".to_owned(), not_installed(PLATFORM)));
    let mut node = Command::new("node");
    node.args(["-e", "require('@tessera/node')"]).current_dir(&app);
    vendor_side(&mut node);
    let output: Output = node.output().expect("run node");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(stderr.matches(&not_installed(PLATFORM)).count(), 1, "{stderr}");
    assert_eq!(stderr.lines().filter(|l| l.starts_with("Error")).count(), 1, "{stderr}");
    assert!(!stderr.contains("[cause]") && !stderr.contains("Require stack"), "{stderr}");
}

/// One version everywhere (the workspace's, `[workspace.package] version`), and one list of
/// platforms: package.json's napi targets, its optionalDependencies, the packages in npm/ and
/// the loader's table.
#[test]
fn every_npm_package_is_at_the_workspace_version_for_the_same_platforms() {
    let here = Path::new(HERE);
    let read = |path: &Path| -> Value {
        serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("JSON")
    };
    let main = read(&here.join("package.json"));
    assert_eq!(main["version"], VERSION, "package.json");
    assert_eq!(main.get("private"), None, "package.json: the package is published");

    let mut platforms: Vec<String> = std::fs::read_dir(here.join("npm"))
        .expect("npm/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    platforms.sort_unstable();
    assert_eq!(platforms, ["linux-arm64-gnu", "linux-x64-gnu", "linux-x64-musl"]);
    for platform in &platforms {
        let name = format!("@tessera/node-{platform}");
        let package = read(&here.join("npm").join(platform).join("package.json"));
        assert_eq!(package["name"], name.as_str());
        assert_eq!(package["version"], VERSION, "npm/{platform}/package.json");
        assert_eq!(package["main"], format!("tessera.{platform}.node").as_str());
        assert_eq!(main["optionalDependencies"][&name], VERSION, "optionalDependencies[{name}]");
        for file in ["README.md", "LICENSE"] {
            assert!(here.join("npm").join(platform).join(file).exists(), "npm/{platform}/{file}");
        }
    }
    let listed = main["optionalDependencies"].as_object().expect("optionalDependencies");
    assert_eq!(listed.len(), platforms.len(), "optionalDependencies: {listed:?}");
    let targets = main["napi"]["targets"].as_array().expect("napi.targets");
    assert_eq!(targets.len(), platforms.len(), "napi.targets: {targets:?}");

    // The lock file describes the same packages (`npm ci` refuses one out of step).
    let lock = read(&here.join("package-lock.json"));
    assert_eq!(lock["version"], VERSION, "package-lock.json");
    assert_eq!(lock["packages"][""]["version"], VERSION, "package-lock.json");
    assert_eq!(lock["packages"][""]["optionalDependencies"], main["optionalDependencies"]);
    for platform in &platforms {
        let entry = &lock["packages"][format!("node_modules/@tessera/node-{platform}")];
        assert_eq!(entry["version"], VERSION, "package-lock.json: {platform}");
    }

    // The loader's table of platforms.
    let loader = std::fs::read_to_string(here.join("index.js")).expect("index.js");
    let table = loader.split("const PLATFORMS = {").nth(1).expect("PLATFORMS in index.js");
    let mut known: Vec<&str> = table
        .split_once('}')
        .expect("end of PLATFORMS")
        .0
        .lines()
        .filter_map(|line| line.trim().strip_prefix('\'')?.split_once('\'').map(|(k, _)| k))
        .collect();
    known.sort_unstable();
    assert_eq!(known, platforms, "index.js PLATFORMS");
}
