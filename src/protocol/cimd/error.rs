//! What can go wrong with a URL `client_id`: the limits a fetch is held
//! to, why a fetch produced no answer, and why the URL cannot be used (the
//! rules of `client_id_url` and `document`). Below every other `cimd` file.

use std::fmt;

/// The largest document accepted (draft §8.7 suggests 5 KB).
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
/// How long a fetch may take, answer and body together.
pub const FETCH_TIMEOUT_SECONDS: u64 = 5;

/// Why a fetch produced no answer to judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchError {
    /// The body (declared or streamed) passed [`MAX_DOCUMENT_BYTES`].
    TooLarge,
    /// No complete answer within [`FETCH_TIMEOUT_SECONDS`].
    Timeout,
    /// Connection, TLS or DNS failure.
    Unreachable,
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::TooLarge => write!(f, "its metadata document is larger than {MAX_DOCUMENT_BYTES} bytes"),
            FetchError::Timeout => write!(f, "its metadata document did not arrive within {FETCH_TIMEOUT_SECONDS} seconds"),
            FetchError::Unreachable => f.write_str("its metadata document could not be fetched (connection failed)"),
        }
    }
}

/// Why a URL `client_id` cannot be used. The text is shown to the owner and
/// sent to the client: it names the rule, never anything secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CimdError(pub String);

impl CimdError {
    pub fn new(why: impl Into<String>) -> Self {
        CimdError(why.into())
    }
}

impl fmt::Display for CimdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "this client_id cannot be used: {}", self.0)
    }
}

impl From<FetchError> for CimdError {
    fn from(e: FetchError) -> Self {
        CimdError(e.to_string())
    }
}
