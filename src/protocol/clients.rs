//! Finding the client a request names (RFC 6749 §2.2): a registered client
//! (RFC 7591) by its issued id, or, when the id is an https URL, the client its
//! metadata document describes (draft-ietf-oauth-client-id-metadata-document).
//! `/authorize`, the consent pages and `/token` all look clients up here, so
//! every one of them applies the same rules.

use crate::store::client_documents::DocumentSource;
use super::cimd::fetch_outcome::{self, Outcome};
use super::cimd::error::CimdError;
use super::cimd::{self, cache_policy, document, negative_cache, pinned, ClientIdUrl, FetchedDocument, StoredDocument};
use super::context::Ctx;
use crate::base::error::{OAuthError, StoreError};
use super::registration_policy;
use super::store::Store;
use crate::store::clients::ClientRecord;
use crate::base::types::ClientId;

/// Issued ids are short; anything longer is not worth a query.
const MAX_REGISTERED_ID: usize = 200;

#[derive(Debug)]
pub enum LookupError {
    /// No registered client has this id.
    Unknown,
    /// A URL client_id that cannot be used, and why.
    Refused(CimdError),
    Unavailable(StoreError),
}

impl From<StoreError> for LookupError {
    fn from(e: StoreError) -> Self {
        LookupError::Unavailable(e)
    }
}

impl From<CimdError> for LookupError {
    fn from(e: CimdError) -> Self {
        LookupError::Refused(e)
    }
}

/// Both kinds of failure are `invalid_client` (401 at /token: RFC 6749 §5.2).
impl From<LookupError> for OAuthError {
    fn from(e: LookupError) -> Self {
        match e {
            LookupError::Unknown => OAuthError::invalid_client("unknown client_id; the client must register again"),
            LookupError::Refused(why) => OAuthError::invalid_client(why.to_string()),
            LookupError::Unavailable(e) => e.into(),
        }
    }
}

/// The client named by `id`, from wherever it is defined.
/// `id` as the id of a registered client, if it can be one (not a URL, not too long).
pub fn registered_id(id: &str) -> Option<ClientId> {
    (!cimd::client_id_url::is_url_like(id) && id.len() <= MAX_REGISTERED_ID).then(|| ClientId::new(id))
}

pub async fn find<S: Store>(ctx: &Ctx<'_, S>, id: &str) -> Result<ClientRecord, LookupError> {
    if cimd::client_id_url::is_url_like(id) {
        return from_metadata_document(ctx, &ClientIdUrl::parse(id)?).await;
    }
    let id = registered_id(id).ok_or(LookupError::Unknown)?;
    ctx.store.client(&id).await?.ok_or(LookupError::Unknown)
}

/// A fresh stored copy first; else one fetch, judged (`fetch_outcome`):
/// the vendor's answer is followed, and a good document stored; a failed
/// fetch falls back to the stored copy (stale-if-error) or the pinned one.
async fn from_metadata_document<S: Store>(ctx: &Ctx<'_, S>, url: &ClientIdUrl) -> Result<ClientRecord, LookupError> {
    let stored = ctx.store.stored_document(url, ctx.now).await?;
    // A pinned copy stands in only while the owner allows pinned copies.
    let stored = stored.filter(|s| s.source != DocumentSource::Pinned || ctx.config.pinned_documents);
    if let Some(copy) = stored.as_ref().filter(|s| s.is_fresh(ctx.now)) {
        // Re-validated on every use: the rules may have tightened since.
        return admitted(ctx, document::validate(url, copy.document.as_bytes(), &ctx.config.scopes, ctx.now)?);
    }
    // A fetch that ended in a refusal less than `negative_cache::TTL` ago is
    // not tried again: anyone can name a URL and make Gatehouse fetch it.
    if let Some(why) = negative_cache::recent(url, ctx.now) {
        return Err(why.into());
    }
    let answer = match fetch_outcome::judge(ctx.store.fetch_document(url).await) {
        Outcome::Failed(why) => {
            let result = stand_in(ctx, url, stored, why).await;
            if let Err(LookupError::Refused(why)) = &result {
                negative_cache::note(url, why, ctx.now);
            }
            return result;
        }
        Outcome::Refused(why) => Err(why),
        Outcome::Document(fetched) => document::validate(url, &fetched.body, &ctx.config.scopes, ctx.now).map(|c| (c, fetched)),
    };
    if let Err(why) = &answer {
        negative_cache::note(url, why, ctx.now);
    }
    // The vendor's word: what it refuses, or forbids to keep, leaves no
    // older copy behind to stand in later.
    let (result, keep) = match answer {
        Err(why) => (Err(why.into()), None),
        Ok((client, fetched)) => (admitted(ctx, client), live_copy(&fetched, ctx.now)),
    };
    // A failed write costs a refetch next time, not this request.
    match keep {
        Some(copy) => drop(ctx.store.store_document(url, &copy, ctx.now).await),
        None if stored.is_some() => drop(ctx.store.forget_document(url).await),
        None => {}
    }
    result
}

/// A good document as fetched, to be stored: fresh per its cache headers,
/// then a stand-in for failed refetches for its stale window; `None` when
/// its headers allow neither (`no-store`, `no-cache`).
fn live_copy(fetched: &FetchedDocument, now: i64) -> Option<StoredDocument> {
    let cc = fetched.cache_control.as_deref();
    let fresh = cache_policy::lifetime(cc, fetched.expires.as_deref(), fetched.date.as_deref(), now).unwrap_or(0);
    let stale = cache_policy::stale_window(cc);
    let text = std::str::from_utf8(&fetched.body).ok().filter(|_| fresh > 0 || stale > 0)?;
    Some(StoredDocument {
        document: text.to_string(),
        source: DocumentSource::Live,
        fetched_at: now,
        expires_at: now + fresh,
        stale_until: now + stale,
        failure: None,
    })
}

/// After a failed fetch: the stored copy while its stale window lasts, else
/// the pinned copy, each used for `RETRY_AFTER_FAILURE` before the next try.
async fn stand_in<S: Store>(ctx: &Ctx<'_, S>, url: &ClientIdUrl, stored: Option<StoredDocument>, why: CimdError) -> Result<ClientRecord, LookupError> {
    let retry_at = ctx.now + cache_policy::RETRY_AFTER_FAILURE;
    let failure = Some((ctx.now, why.0.clone()));
    let copy = match stored.filter(|s| s.source != DocumentSource::Pinned && s.stale_until > ctx.now) {
        Some(s) => StoredDocument { source: DocumentSource::Stored, expires_at: retry_at, failure, ..s },
        None => {
            let Some(pinned) = pinned::find(url.as_str()) else { return Err(why.into()) };
            if !ctx.config.pinned_documents {
                return Err(LookupError::Refused(CimdError::new(format!(
                    "{}; Gatehouse has no stored copy of it, and its pinned copy is switched off (CIMD_PINNED_DOCUMENTS=off)",
                    why.0
                ))));
            }
            StoredDocument { document: pinned.document, source: DocumentSource::Pinned, fetched_at: ctx.now, expires_at: retry_at, stale_until: 0, failure }
        }
    };
    let client = admitted(ctx, document::validate(url, copy.document.as_bytes(), &ctx.config.scopes, ctx.now)?)?;
    let _ = ctx.store.store_document(url, &copy, ctx.now).await;
    Ok(client)
}

/// The owner's redirect-URI allow-list binds documents as it binds registrations.
fn admitted<S>(ctx: &Ctx<'_, S>, client: ClientRecord) -> Result<ClientRecord, LookupError> {
    registration_policy::check_redirects(&ctx.config.registration, &client.redirect_uris)
        .map_err(|e| LookupError::Refused(CimdError::new(e.description)))?;
    Ok(client)
}
