//! Records for the cases, each with ids from the fixture.

use serde_json::json;

use super::case::Fixture;
use crate::base::pkce::CodeChallenge;
use crate::base::redirect_uri::RedirectUri;
use crate::base::types::{ClientId, GrantId, Subject, TokenHash};
use crate::store::clients::{AuthMethod, ClientRecord};
use crate::store::grants::{CodeRecord, GrantRecord, RefreshRecord};
use crate::store::pending::PendingAuthorization;

pub fn client(f: &Fixture, name: &str) -> ClientRecord {
    let id = f.id(name);
    ClientRecord {
        client_id: ClientId::new(id.clone()),
        secret_hash: Some(TokenHash::of(&format!("secret of {id}"))),
        auth_method: AuthMethod::ClientSecretPost,
        redirect_uris: vec![
            RedirectUri::parse("https://claude.ai/api/mcp/auth_callback").expect("a valid redirect URI"),
            RedirectUri::parse("http://127.0.0.1/callback").expect("a valid redirect URI"),
        ],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        client_name: Some(format!("Conformance {name} \u{2713}")),
        metadata: json!({"client_id": id, "client_name": format!("Conformance {name} \u{2713}"), "scope": "mcp"}),
        created_at: f.now,
    }
}

pub fn pending(f: &Fixture, name: &str, expires_at: i64) -> PendingAuthorization {
    PendingAuthorization {
        id: f.id(name),
        client_id: ClientId::new(f.id("client")),
        redirect_uri: "http://127.0.0.1:33418/callback".into(),
        state: Some("xyz".into()),
        code_challenge: CodeChallenge::from_stored("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
        scope: "mcp".into(),
        resource: "https://gatehouse.example/mcp".into(),
        browser: TokenHash::of(&f.id("browser")),
        expires_at,
    }
}

pub fn grant(f: &Fixture, name: &str) -> GrantRecord {
    GrantRecord {
        grant_id: GrantId::new(f.id(name)),
        client_id: ClientId::new(f.id("client")),
        subject: Subject::new("owner"),
        scope: "mcp".into(),
        resource: "https://gatehouse.example/mcp".into(),
        created_at: f.now,
        revoked_at: None,
    }
}

pub fn code(f: &Fixture, name: &str, grant: &GrantRecord, expires_at: i64) -> CodeRecord {
    CodeRecord {
        code_hash: TokenHash::of(&f.id(name)),
        client_id: grant.client_id.clone(),
        redirect_uri: "http://127.0.0.1:33418/callback".into(),
        code_challenge: CodeChallenge::from_stored("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
        scope: grant.scope.clone(),
        resource: grant.resource.clone(),
        grant_id: grant.grant_id.clone(),
        expires_at,
        used_at: None,
    }
}

pub fn refresh(f: &Fixture, name: &str, grant: &GrantRecord) -> RefreshRecord {
    RefreshRecord {
        token_hash: TokenHash::of(&f.id(name)),
        grant_id: grant.grant_id.clone(),
        client_id: grant.client_id.clone(),
        expires_at: f.now + 86_400,
        used_at: None,
        successor_hash: None,
    }
}
