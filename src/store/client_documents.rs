//! What is kept of client ID metadata documents (`protocol::cimd`): where
//! the copy that admitted a client came from.

/// Where the copy of a document that admitted a client came from; the admin
/// page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentSource {
    /// Fetched from its URL.
    Live,
    /// A copy fetched earlier, standing in for a refetch that failed.
    Stored,
    /// The copy Gatehouse ships (`pinned`), standing in when there was no stored copy.
    Pinned,
}

impl DocumentSource {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentSource::Live => "live",
            DocumentSource::Stored => "stored",
            DocumentSource::Pinned => "pinned",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "live" => Some(DocumentSource::Live),
            "stored" => Some(DocumentSource::Stored),
            "pinned" => Some(DocumentSource::Pinned),
            _ => None,
        }
    }
}
