//! Bearer-token authentication: the token is read from an owner-only file, and a request's
//! `Authorization: Bearer <token>` is compared with it in constant time.
//!
//! Both sides are hashed (SHA-256) before the comparison, so that neither the token's bytes
//! nor its length can be learnt from response times: `subtle`'s comparison of two 32-byte
//! digests takes the same time whatever they hold.

use sha2::{Digest, Sha256};
use std::path::Path;
use subtle::ConstantTimeEq;

/// The service's token (only its digest is kept; `Debug` prints nothing of it).
#[derive(Clone)]
pub struct Token {
    digest: [u8; 32],
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(redacted)")
    }
}

/// Why the token file was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The file cannot be read.
    #[error("{path}: cannot read the token file: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is readable or writable by others than its owner.
    #[error(
        "{path}: the token file is accessible to group or others (mode {mode:o}); make it owner-only: chmod 600 {path}"
    )]
    Exposed {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// The file holds no usable token.
    #[error(
        "{path}: {reason}; write one line of at least {MIN_TOKEN_BYTES} printable characters (e.g. `openssl rand -hex 32 > {path}`)"
    )]
    Unusable {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// Shortest token accepted, in bytes: 16 bytes of hex are 64 bits, a floor against guessing.
pub const MIN_TOKEN_BYTES: usize = 16;

impl Token {
    /// A token from its text (surrounding whitespace, such as a final newline, is ignored).
    pub fn new(text: &str) -> Result<Self, String> {
        let token = text.trim();
        if token.len() < MIN_TOKEN_BYTES {
            return Err(format!(
                "the token is {} bytes long, shorter than {MIN_TOKEN_BYTES}",
                token.len()
            ));
        }
        if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("the token contains whitespace or control characters".into());
        }
        Ok(Self {
            digest: Sha256::digest(token.as_bytes()).into(),
        })
    }

    /// Reads the token from `path`, refusing a file that group or others can access.
    pub fn from_file(path: &Path) -> Result<Self, TokenError> {
        let shown = path.display().to_string();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|source| TokenError::Io {
                    path: shown.clone(),
                    source,
                })?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(TokenError::Exposed {
                    path: shown,
                    mode: mode & 0o777,
                });
            }
        }
        let text = std::fs::read_to_string(path).map_err(|source| TokenError::Io {
            path: shown.clone(),
            source,
        })?;
        Self::new(&text).map_err(|reason| TokenError::Unusable {
            path: shown,
            reason,
        })
    }

    /// Whether an `Authorization` header value is `Bearer <this token>` (constant time in
    /// the presented token).
    pub fn admits(&self, authorization: Option<&[u8]>) -> bool {
        let presented = authorization
            .and_then(|value| value.strip_prefix(b"Bearer "))
            .unwrap_or_default();
        let digest: [u8; 32] = Sha256::digest(presented).into();
        bool::from(digest.ct_eq(&self.digest)) && !presented.is_empty()
    }

    /// Whether two tokens are the same (compared by digest; used once, at start, to refuse
    /// an operator token equal to the requesters').
    pub fn same_as(&self, other: &Token) -> bool {
        bool::from(self.digest.ct_eq(&other.digest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_exactly_the_bearer_token() {
        let token = Token::new("0123456789abcdef0123\n").unwrap();
        assert!(token.admits(Some(b"Bearer 0123456789abcdef0123")));
        assert!(!token.admits(Some(b"Bearer 0123456789abcdef012")));
        assert!(!token.admits(Some(b"bearer 0123456789abcdef0123")));
        assert!(!token.admits(Some(b"0123456789abcdef0123")));
        assert!(!token.admits(Some(b"Bearer ")));
        assert!(!token.admits(None));
        assert!(Token::new("short").is_err());
        assert!(Token::new("0123456789abcdef 0123").is_err());
        assert_eq!(format!("{token:?}"), "Token(redacted)");
    }
}
