//! Passkeys for the owner (W3C WebAuthn Level 2): enrolment guarded by a
//! one-time setup code, then login by passkey on the consent flow's sign-in
//! page, on `/admin` and on `/passkeys`. RP ID = the public host; user
//! verification required; ES256 and EdDSA credentials; signature counters
//! checked.
//!
//! - `cbor`, `cose`, `authenticator_data`: the binary formats (§6.1, §6.5).
//! - `ceremony`: the relying party's checks (§7.1, §7.2).
//! - `flow`: challenges (random, single-use, short-lived, bound to the browser
//!   cookie) and credentials around the ceremonies, on a `PasskeyStore`.
//! - `handlers`, `page`, `script`: the HTTP endpoints, HTML and `/passkey.js`.

pub mod authenticator_data;
pub mod cbor;
pub mod ceremony;
pub mod cose;
pub mod flow;
pub mod handlers;
pub mod offer;
pub mod page;
pub mod script;


/// How long a challenge may be answered (WebAuthn's own default timeout is
/// 5 minutes; a person needs well under that).
pub const CHALLENGE_TTL: i64 = 5 * 60;
use crate::store::passkeys::MAX_PASSKEYS;
#[cfg(test)]
use crate::store::passkeys::Passkey;
