//! Scratch directories for tests: each a fresh directory under the system temp dir with a
//! random suffix (`unlearn-NAME-XXXXXX`; 0700 on Unix, as tests write secret state into it —
//! `tempfile` alone would leave it to the umask, 0755 here), owned by a guard that
//! deletes it with everything in it when dropped, so a test run leaves nothing in /tmp.
//! Bind the guard for as long as the path is used — `let dir = scratch("x");`, never
//! `scratch("x").to_path_buf()`, which deletes the directory at once — and past the exit of
//! any child process given the path. Set `UNLEARN_KEEP_TEST_DIRS=1` to keep every directory
//! for debugging (TESTING.md); each kept path is printed to stderr.
//!
//! Shared by both test crates: `crates/unlearn-cli/tests/common/mod.rs` includes this file.

use std::ops::Deref;
use std::path::Path;

/// The environment variable that keeps scratch directories when set to `1`.
pub const KEEP_VAR: &str = "UNLEARN_KEEP_TEST_DIRS";

/// A fresh directory that is removed when this guard is dropped (unless kept, [`KEEP_VAR`]).
/// Derefs to its path, so `dir.join("store")` and `&dir` as a `&Path` work as on a `PathBuf`.
pub struct Scratch(tempfile::TempDir);

/// A fresh scratch directory `unlearn-NAME-XXXXXX` under the system temp dir.
pub fn scratch(name: &str) -> Scratch {
    let keep = std::env::var_os(KEEP_VAR).is_some_and(|v| v == "1");
    let prefix = format!("unlearn-{name}-");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).disable_cleanup(keep);
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
    let dir = builder.tempdir().unwrap_or_else(|e| {
        panic!(
            "cannot create a scratch directory in {}: {e} (is the disk full?)",
            std::env::temp_dir().display()
        )
    });
    if keep {
        eprintln!("{KEEP_VAR}=1: keeping {}", dir.path().display());
    }
    Scratch(dir)
}

impl Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        self.0.path()
    }
}
