//! Dynamic Client Registration, RFC 7591 §3: `POST /register`. Claude
//! registers on every connection, so this is cheap and permissive about
//! fields it does not use, and strict about everything security-relevant:
//! the metadata rules are `client_metadata` (RFC 7591 §2), the owner's
//! policy `registration_policy`.

use serde_json::Value;

use super::client_metadata::{self, bad};
use super::context::Ctx;
use super::registration_policy::{self, Admission};
use super::store::Store;
use crate::base::error::OAuthResult;
use crate::base::form::is_json_content_type;
use crate::base::http::{HttpRequest, HttpResponse};
use crate::base::random;
use crate::base::types::ClientId;
use crate::store::audit::AuditEvent;
use crate::store::clients::{AuthMethod, ClientRecord};
use crate::store::registrations::RegistrationCounter;

/// `POST /register`.
pub async fn handle<S: Store + RegistrationCounter>(ctx: &Ctx<'_, S>, req: &HttpRequest) -> HttpResponse {
    match register(ctx, req).await {
        Ok(resp) => resp,
        Err(e) => HttpResponse::oauth_error(&e),
    }
}

async fn register<S: Store + RegistrationCounter>(ctx: &Ctx<'_, S>, req: &HttpRequest) -> OAuthResult<HttpResponse> {
    if !is_json_content_type(req.header("content-type")) {
        return Err(bad("Content-Type must be application/json"));
    }
    let reg = client_metadata::validate(&req.body, &ctx.config.scopes)?;
    let policy = &ctx.config.registration;
    registration_policy::check_redirects(policy, &reg.redirect_uris)?;
    let client_id = ClientId::new(random::id("gh_")?);
    let secret = match reg.auth_method {
        AuthMethod::None => None,
        _ => Some(random::secret()?),
    };
    let mut metadata = reg.echoed;
    metadata.insert("client_id".into(), client_id.as_str().into());
    metadata.insert("client_id_issued_at".into(), ctx.now.into());
    let record = ClientRecord {
        client_id,
        secret_hash: secret.as_ref().map(|s| s.hash()),
        auth_method: reg.auth_method,
        redirect_uris: reg.redirect_uris,
        grant_types: reg.grant_types,
        client_name: reg.client_name,
        metadata: Value::Object(metadata.clone()),
        created_at: ctx.now,
    };
    // Counted after validation: only what is stored uses up the cap.
    let event = AuditEvent::client_registered(&record, req);
    if let Admission::OverCap { retry_after } = registration_policy::store_counted(policy, ctx.store, &record, &event, req.client_ip(), ctx.now).await? {
        return Ok(HttpResponse::oauth_error(&registration_policy::over_cap_error(policy)).with_header("retry-after", retry_after.to_string()));
    }
    // The secret is shown once, here, and stored only hashed.
    if let Some(s) = &secret {
        metadata.insert("client_secret".into(), s.expose().into());
        metadata.insert("client_secret_expires_at".into(), 0.into());
    }
    Ok(HttpResponse::json(201, &Value::Object(metadata)))
}

