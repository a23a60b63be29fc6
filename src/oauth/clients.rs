//! Finding the client a request names (RFC 6749 §2.2): a registered client
//! (RFC 7591) by its issued id, or, when the id is an https URL, the client its
//! metadata document describes (draft-ietf-oauth-client-id-metadata-document).
//! `/authorize`, the consent pages and `/token` all look clients up here, so
//! every one of them applies the same rules.

use super::cimd::{self, cache_policy, document, negative_cache, ClientIdUrl};
use super::context::Ctx;
use super::error::{OAuthError, StoreError};
use super::registration_policy;
use super::store::{ClientRecord, Store};
use super::types::ClientId;

/// Issued ids are short; anything longer is not worth a query.
const MAX_REGISTERED_ID: usize = 200;

#[derive(Debug)]
pub enum LookupError {
    /// No registered client has this id.
    Unknown,
    /// A URL client_id that cannot be used, and why.
    Refused(cimd::CimdError),
    Unavailable(StoreError),
}

impl From<StoreError> for LookupError {
    fn from(e: StoreError) -> Self {
        LookupError::Unavailable(e)
    }
}

impl From<cimd::CimdError> for LookupError {
    fn from(e: cimd::CimdError) -> Self {
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
pub async fn find<S: Store>(ctx: &Ctx<'_, S>, id: &str) -> Result<ClientRecord, LookupError> {
    if cimd::client_id_url::is_url_like(id) {
        return from_metadata_document(ctx, &ClientIdUrl::parse(id)?).await;
    }
    if id.len() > MAX_REGISTERED_ID {
        return Err(LookupError::Unknown);
    }
    ctx.store.client(&ClientId::new(id)).await?.ok_or(LookupError::Unknown)
}

/// Cache first; else one fetch, checked in full, and cached only if good.
async fn from_metadata_document<S: Store>(ctx: &Ctx<'_, S>, url: &ClientIdUrl) -> Result<ClientRecord, LookupError> {
    let scopes = &ctx.config.scopes;
    if let Some(cached) = ctx.store.cached_document(url, ctx.now).await? {
        // Re-validated on every use: the rules may have tightened since.
        return admitted(ctx, document::validate(url, cached.as_bytes(), scopes, ctx.now)?);
    }
    // A recent failure is answered from memory (`negative_cache`), and a new one remembered.
    if let Some(why) = negative_cache::recent(url, ctx.now) {
        return Err(why.into());
    }
    let (fetched, client) = fetch_and_check(ctx, url).await.map_err(|why| {
        negative_cache::note(url, &why, ctx.now);
        why
    })?;
    let client = admitted(ctx, client)?;
    let lifetime = cache_policy::lifetime(fetched.cache_control.as_deref(), fetched.expires.as_deref(), fetched.date.as_deref(), ctx.now);
    if let (Some(seconds), Ok(text)) = (lifetime, std::str::from_utf8(&fetched.body)) {
        // A failed cache write costs a refetch next time, not this request.
        let _ = ctx.store.cache_document(url, text, ctx.now, ctx.now + seconds).await;
    }
    Ok(client)
}

/// One fetch of the document at `url`, and the client it describes.
async fn fetch_and_check<S: Store>(ctx: &Ctx<'_, S>, url: &ClientIdUrl) -> Result<(cimd::FetchedDocument, ClientRecord), cimd::CimdError> {
    let fetched = ctx.store.fetch_document(url).await?;
    cimd::check_response(&fetched)?;
    let client = document::validate(url, &fetched.body, &ctx.config.scopes, ctx.now)?;
    Ok((fetched, client))
}

/// The owner's redirect-URI allow-list binds documents as it binds registrations.
fn admitted<S>(ctx: &Ctx<'_, S>, client: ClientRecord) -> Result<ClientRecord, LookupError> {
    registration_policy::check_redirects(&ctx.config.registration, &client.redirect_uris)
        .map_err(|e| LookupError::Refused(cimd::CimdError::new(e.description)))?;
    Ok(client)
}
