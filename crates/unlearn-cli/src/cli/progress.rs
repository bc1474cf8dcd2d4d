//! Progress bars for a person watching a long command: drawn on standard error, and only
//! when standard output is a terminal and `--json` was not given, so piped, redirected and
//! machine output stays exactly the results.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

/// A progress bar, or nothing when nobody is watching. Cleared when dropped.
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar counting `total` steps of `what` ("class models", "requests"); hidden unless
    /// standard output is a terminal and `json` is false.
    pub fn bar(total: u64, what: &str, json: bool) -> Self {
        Self::shown(json)
            .then(|| {
                let style = ProgressStyle::with_template(
                    "{spinner} [{bar:30}] {pos}/{len} {prefix} {msg} ({elapsed})",
                )
                .expect("a valid template")
                .progress_chars("=> ");
                ProgressBar::new(total)
                    .with_style(style)
                    .with_prefix(what.to_string())
            })
            .into()
    }

    /// A spinner for work that cannot be counted (retraining from scratch, say).
    pub fn spinner(what: &str, json: bool) -> Self {
        Self::shown(json)
            .then(|| {
                let bar = ProgressBar::new_spinner().with_message(what.to_string());
                bar.enable_steady_tick(std::time::Duration::from_millis(100));
                bar
            })
            .into()
    }

    fn shown(json: bool) -> bool {
        !json && std::io::stdout().is_terminal()
    }

    /// Counts `n` more steps done.
    pub fn inc(&self, n: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(n);
        }
    }

    /// Says what is being worked on now (a task's name, say).
    pub fn set_message(&self, message: impl Into<String>) {
        if let Some(bar) = &self.0 {
            bar.set_message(message.into());
        }
    }

    /// Runs `print` with the bar taken off the screen, so results printed meanwhile do not
    /// mix with it.
    pub fn suspend<R>(&self, print: impl FnOnce() -> R) -> R {
        match &self.0 {
            Some(bar) => bar.suspend(print),
            None => print(),
        }
    }
}

impl From<Option<ProgressBar>> for Progress {
    fn from(bar: Option<ProgressBar>) -> Self {
        Self(bar)
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
