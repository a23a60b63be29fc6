//! Pinned copies of well-known vendors' metadata documents, shipped with
//! Gatehouse in `pinned_documents.json`: each the vendor's text as served at
//! its URL (the `client_id`) on the date `as_of`; where each was copied from
//! is listed in docs/clients.md, "When a vendor's document host does not answer".
//! One is used only when its URL can neither be fetched nor served from a
//! stored copy, only for exactly that URL, only while the owner has not
//! switched them off (`CIMD_PINNED_DOCUMENTS=off`), and it passes the same
//! checks as a fetched document. The file is the one source of truth: the
//! end-to-end tests serve the same texts as the vendors' live documents, and
//! `scripts/refresh-pinned-documents.mjs` refreshes it.

use serde_json::Value;

const FILE: &str = include_str!("pinned_documents.json");

/// One pinned document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinned {
    pub client_id: String,
    /// The vendor's text, as published.
    pub document: String,
    /// The date the vendor served this text (YYYY-MM-DD).
    pub as_of: String,
}

/// Every pinned document (parsed on use: it is needed only when a fetch
/// fails). Read as a `Value`, the parser the documents themselves go
/// through, rather than a derived one: this is not worth its own code.
pub fn all() -> Vec<Pinned> {
    let file = serde_json::from_slice::<Value>(FILE.as_bytes()).unwrap_or_default();
    let text = |d: &Value, k: &str| d.get(k).and_then(Value::as_str).map(str::to_string);
    file.get("documents")
        .and_then(Value::as_array)
        .map(|docs| docs.iter().filter_map(|d| Some(Pinned { client_id: text(d, "client_id")?, document: text(d, "document")?, as_of: text(d, "as_of")? })).collect())
        .unwrap_or_default()
}

/// The pinned copy of the document at exactly `url`, if Gatehouse ships one.
pub fn find(url: &str) -> Option<Pinned> {
    all().into_iter().find(|p| p.client_id == url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::cimd::{document, ClientIdUrl};
    use crate::base::scope::Scopes;

    #[test]
    fn the_file_parses_and_names_each_url_once() {
        let all = all();
        assert!(all.len() >= 6, "{all:?}");
        for p in &all {
            assert_eq!(all.iter().filter(|q| q.client_id == p.client_id).count(), 1, "{}", p.client_id);
            let date = p.as_of.as_bytes();
            assert!(date.len() == 10 && date[4] == b'-' && date[7] == b'-', "as_of is a date: {}", p.as_of);
        }
        assert_eq!(find("https://claude.ai/oauth/mcp-oauth-client-metadata").map(|p| p.as_of.len()), Some(10));
        assert_eq!(find("https://claude.ai/oauth/mcp-oauth-client-metadata/"), None, "exactly the URL");
        assert_eq!(find("https://evil.example/oauth/mcp-oauth-client-metadata"), None);
    }

    /// Each vendor's document, as published, becomes a public client: the
    /// grants and fields Gatehouse does not support are dropped, not refused.
    /// ChatGPT's asks for `private_key_jwt`; until that is supported it is
    /// refused for that alone, and accepted once the method is `none`.
    #[test]
    fn every_pinned_document_is_accepted_as_published() {
        for p in all() {
            let url = ClientIdUrl::parse(&p.client_id).unwrap();
            let accepted = document::validate(&url, p.document.as_bytes(), &Scopes::from_config("mcp"), 0);
            let client = match accepted {
                Ok(c) => c,
                Err(e) if e.0.contains("token_endpoint_auth_method") => {
                    let mut doc: serde_json::Value = serde_json::from_str(&p.document).unwrap();
                    doc["token_endpoint_auth_method"] = "none".into();
                    document::validate(&url, doc.to_string().as_bytes(), &Scopes::from_config("mcp"), 0)
                        .unwrap_or_else(|e| panic!("{} is refused for more than its auth method: {e}", p.client_id))
                }
                Err(e) => panic!("{} is refused: {e}", p.client_id),
            };
            assert_eq!(client.client_id.as_str(), p.client_id);
            assert!(client.client_name.is_some(), "{}", p.client_id);
            assert!(client.secret_hash.is_none(), "{}", p.client_id);
            assert!(client.grant_types.iter().any(|g| g == "authorization_code"), "{}", p.client_id);
            assert_eq!(client.metadata["grant_types"], serde_json::json!(["authorization_code", "refresh_token"]), "{}", p.client_id);
            let echoed = client.metadata.to_string();
            for unsupported in ["jwt-bearer", "device_code"] {
                assert!(!echoed.contains(unsupported), "{}: {unsupported} recorded in {echoed}", p.client_id);
            }
        }
    }
}
