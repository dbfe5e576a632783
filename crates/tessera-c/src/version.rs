//! The library's version, and the check that the header a product compiled against is from
//! a version this library serves (`tessera_version_check(TESSERA_VERSION)`): a product built
//! with one version's `tessera.h` and run on another version's library would otherwise call
//! functions whose arguments or enums may have changed.
//!
//! The header's `TESSERA_VERSION` macro and this version both come from the workspace's
//! version (build.rs writes the macro from `CARGO_PKG_VERSION`).

use std::ffi::{CStr, c_char};

use tessera::Error;

use crate::{TesseraCode, call};

/// The workspace's version, NUL-terminated, for C.
const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(version) => version,
        Err(_) => panic!("the package version holds a NUL"),
    };

/// This library's version (`"0.1.0"`), the same as `TESSERA_VERSION` in the header it was
/// built with: a static string that lives as long as the program. Never free it.
#[allow(unsafe_code)]
#[unsafe(no_mangle)] // an exported C symbol.
pub extern "C" fn tessera_version() -> *const c_char {
    VERSION.as_ptr()
}

/// Checks that the header a product was compiled with serves this library: call it first,
/// as `tessera_version_check(TESSERA_VERSION)`. `TESSERA_CODE_OK` when `header_version` is
/// this library's version or an older one of the same series (the same major version; before
/// 1.0, the same minor version); else `TESSERA_CODE_BAD_ARGUMENT`, and `tessera_last_error()`
/// says in one sentence which two versions met.
///
/// # Safety
/// `header_version` is NULL (refused) or a NUL-terminated string.
#[allow(unsafe_code)]
#[unsafe(no_mangle)] // an exported C symbol.
pub unsafe extern "C" fn tessera_version_check(header_version: *const c_char) -> TesseraCode {
    call(|| {
        // SAFETY: this function's contract.
        let header = unsafe { crate::text(header_version, "header_version") }?;
        let library = env!("CARGO_PKG_VERSION");
        if serves(library, header) {
            Ok(())
        } else {
            Err(Error::BadArgument {
                what: "header_version",
                message: format!(
                    "the program was compiled with tessera.h {header} but the library \
                     loaded is {library}: install the library of the header's version, or \
                     rebuild the program with the tessera.h installed with this library"
                ),
            })
        }
    })
}

/// Whether a library of version `library` serves a program compiled with the header of
/// version `header`: the same series (major; before 1.0, major and minor, as Cargo reads
/// versions) and not newer than the library (a newer header may declare calls this library
/// lacks).
fn serves(library: &str, header: &str) -> bool {
    let (Some(library), Some(header)) = (parse(library), parse(header)) else {
        return false;
    };
    let series = |v: [u64; 3]| if v[0] == 0 { [v[0], v[1]] } else { [v[0], u64::MAX] };
    series(library) == series(header) && header <= library
}

/// `major.minor.patch` as numbers; anything else (a pre-release, a stray word) is `None`.
fn parse(version: &str) -> Option<[u64; 3]> {
    let mut parts = version.split('.').map(|p| p.parse::<u64>().ok());
    let version = [parts.next()??, parts.next()??, parts.next()??];
    parts.next().is_none().then_some(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_the_workspace_version_and_ends_with_one_nul() {
        assert_eq!(VERSION.to_str(), Ok(env!("CARGO_PKG_VERSION")));
        assert!(parse(env!("CARGO_PKG_VERSION")).is_some(), "a plain major.minor.patch");
    }

    #[test]
    fn a_library_serves_headers_of_its_own_series_not_newer_than_itself() {
        for (library, header, serves_it) in [
            ("0.1.0", "0.1.0", true),
            ("0.1.3", "0.1.0", true),
            ("0.1.0", "0.1.1", false),
            ("0.1.0", "0.2.0", false),
            ("0.2.0", "0.1.0", false),
            ("1.4.0", "1.2.7", true),
            ("1.4.0", "1.5.0", false),
            ("2.0.0", "1.9.0", false),
            ("0.1.0", "0.1", false),
            ("0.1.0", "0.1.0-rc.1", false),
            ("0.1.0", "0.1.0.0", false),
            ("0.1.0", "", false),
        ] {
            assert_eq!(serves(library, header), serves_it, "library {library}, header {header}");
        }
    }
}
