//! Quoting untrusted input back in messages, capped.
//!
//! Error messages quote what they refuse (an id, a cell, a request line) so the operator
//! can find it; but input can be huge (a 100 MB request line, a binary file read as CSV),
//! and a message that repeats it whole floods a terminal or a log. [`echo`] keeps the first
//! [`MAX_ECHO_CHARS`] characters and says how long the whole was.

use std::borrow::Cow;

/// Most characters of input a message repeats.
pub const MAX_ECHO_CHARS: usize = 200;

/// `text` as a message may quote it: unchanged up to [`MAX_ECHO_CHARS`] characters, else
/// its first [`MAX_ECHO_CHARS`] characters followed by `… (N bytes)`, N its length in bytes.
pub fn echo(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(MAX_ECHO_CHARS) {
        Some((end, _)) => Cow::Owned(format!("{}… ({} bytes)", &text[..end], text.len())),
        None => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_unchanged_and_long_text_is_cut_on_a_char_boundary() {
        assert_eq!(echo("d0018"), "d0018");
        let exact = "x".repeat(MAX_ECHO_CHARS);
        assert_eq!(echo(&exact), exact.as_str());
        let long = "é".repeat(1000);
        let shown = echo(&long);
        assert!(shown.ends_with("… (2000 bytes)"), "{shown}");
        assert_eq!(shown.chars().filter(|&c| c == 'é').count(), MAX_ECHO_CHARS);
    }
}
