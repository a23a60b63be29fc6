//! The ceremonies and the flow with real ES256 and EdDSA keys: one accepted
//! path each, then each refusal of WebAuthn L2 §7.1 and §7.2 on its own.

use crate::identity::sign_in::passkey::authenticator_data::{FLAG_UP, FLAG_UV};
use crate::identity::sign_in::passkey::ceremony::{CeremonyError, RelyingParty};
use crate::identity::sign_in::passkey::flow::{self, FlowError};
use crate::testing::passkeys::Authenticator;
use crate::store::memory::passkeys::MemoryPasskeys;
use crate::store::passkeys::PasskeyStore;
use crate::store::passkeys::Purpose;
use crate::store::memory::block_on;
use crate::testing::net::{TestKey, TestNet};
use crate::base::types::TokenHash;

const ORIGIN: &str = "https://mcp.example.com";

fn rp() -> RelyingParty {
    RelyingParty::for_issuer(ORIGIN).unwrap()
}

fn browser() -> TokenHash {
    TokenHash::of("browser-cookie")
}

struct World {
    store: MemoryPasskeys,
    net: TestNet,
    now: i64,
}

impl World {
    fn new() -> Self {
        World { store: MemoryPasskeys::default(), net: TestNet::default(), now: 1_000 }
    }

    fn challenge(&self, purpose: Purpose) -> String {
        block_on(flow::issue_challenge(&self.store, purpose, &browser(), self.now)).unwrap()
    }

    fn enrol(&self, a: &Authenticator) -> Result<crate::identity::sign_in::passkey::Passkey, FlowError> {
        let reg = a.create(&self.challenge(Purpose::Register));
        block_on(flow::register(&self.store, &rp(), &browser(), &reg, "laptop", self.now))
    }

    fn login(&self, assertion: &flow::Assertion) -> Result<crate::identity::sign_in::passkey::Passkey, FlowError> {
        block_on(flow::authenticate(&self.store, &self.net, &rp(), &browser(), assertion, self.now))
    }
}

fn refused(r: Result<crate::identity::sign_in::passkey::Passkey, FlowError>) -> CeremonyError {
    match r {
        Err(FlowError::Refused(e)) => e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn authenticators() -> Vec<Authenticator> {
    vec![Authenticator::new(TestKey::es256("es"), "mcp.example.com", ORIGIN), Authenticator::new(TestKey::eddsa("ed"), "mcp.example.com", ORIGIN)]
}

#[test]
fn es256_and_eddsa_passkeys_enrol_and_log_in_with_increasing_counters() {
    for mut a in authenticators() {
        let w = World::new();
        let p = w.enrol(&a).unwrap();
        assert_eq!((p.alg, p.id.clone(), p.sign_count), (a.key.alg(), a.id(), 0));
        let first = a.get(&w.challenge(Purpose::Login));
        assert_eq!(w.login(&first).unwrap().id, a.id());
        let second = a.get(&w.challenge(Purpose::Login));
        w.login(&second).unwrap();
        let stored = block_on(w.store.passkey(&a.id())).unwrap().unwrap();
        assert_eq!((stored.sign_count, stored.last_used_at), (2, Some(1_000)));
    }
}

#[test]
fn a_challenge_is_single_use_bound_to_its_browser_purpose_and_lifetime() {
    let mut a = Authenticator::new(TestKey::es256("k"), "mcp.example.com", ORIGIN);
    let mut w = World::new();
    w.enrol(&a).unwrap();
    // Replayed: the same answer twice.
    let answer = a.get(&w.challenge(Purpose::Login));
    w.login(&answer).unwrap();
    assert_eq!(refused(w.login(&a.get_with_counter(&challenge_of(&answer), 9))), CeremonyError::UnknownChallenge);
    // Another browser.
    let c = w.challenge(Purpose::Login);
    let other = block_on(flow::authenticate(&w.store, &w.net, &rp(), &TokenHash::of("other"), &a.get(&c), w.now));
    assert_eq!(refused(other), CeremonyError::UnknownChallenge);
    // A registration challenge answered as a login.
    assert_eq!(refused(w.login(&a.get(&w.challenge(Purpose::Register)))), CeremonyError::UnknownChallenge);
    // Expired.
    let c = w.challenge(Purpose::Login);
    w.now += crate::identity::sign_in::passkey::CHALLENGE_TTL;
    assert_eq!(refused(w.login(&a.get(&c))), CeremonyError::UnknownChallenge);
    // Never issued.
    assert_eq!(refused(w.login(&a.get("bm90LWlzc3VlZA"))), CeremonyError::UnknownChallenge);
}

fn challenge_of(a: &flow::Assertion) -> String {
    let v: serde_json::Value = serde_json::from_slice(&a.client_data).unwrap();
    v["challenge"].as_str().unwrap().to_string()
}

#[test]
fn registration_refusals() {
    let w = World::new();
    let base = || Authenticator::new(TestKey::es256("k"), "mcp.example.com", ORIGIN);
    let mut wrong_origin = base();
    wrong_origin.origin = "https://evil.example".into();
    assert_eq!(refused(w.enrol(&wrong_origin)), CeremonyError::WrongOrigin);
    let mut wrong_rp = base();
    wrong_rp.rp_id = "example.com".into();
    assert_eq!(refused(w.enrol(&wrong_rp)), CeremonyError::WrongRpId);
    let mut no_uv = base();
    no_uv.flags = FLAG_UP;
    assert_eq!(refused(w.enrol(&no_uv)), CeremonyError::UserNotVerified);
    let mut no_up = base();
    no_up.flags = FLAG_UV;
    assert_eq!(refused(w.enrol(&no_up)), CeremonyError::UserNotPresent);
    // A get() answer offered as a create().
    let a = base();
    let mut reg = a.create(&w.challenge(Purpose::Register));
    reg.client_data = a.client_data("webauthn.get", &w.challenge(Purpose::Register));
    assert_eq!(refused(block_on(flow::register(&w.store, &rp(), &browser(), &reg, "x", w.now))), CeremonyError::WrongType);
    // An attestation statement we did not ask for.
    let mut reg = a.create(&w.challenge(Purpose::Register));
    let swapped = String::from_utf8_lossy(&reg.attestation_object).contains("none");
    assert!(swapped);
    let pos = reg.attestation_object.windows(4).position(|x| x == b"none").unwrap();
    reg.attestation_object[pos..pos + 4].copy_from_slice(b"nonf");
    assert_eq!(refused(block_on(flow::register(&w.store, &rp(), &browser(), &reg, "x", w.now))), CeremonyError::Attestation);
    assert!(block_on(w.store.passkeys()).unwrap().is_empty(), "nothing refused was stored");
    // The same credential twice.
    w.enrol(&a).unwrap();
    assert!(matches!(w.enrol(&a), Err(FlowError::Failed(_))));
}

#[test]
fn login_refusals() {
    for mut a in authenticators() {
        let w = World::new();
        w.enrol(&a).unwrap();
        // A credential that was never enrolled (another authenticator).
        let mut stranger = Authenticator::new(TestKey::es256("stranger"), "mcp.example.com", ORIGIN);
        assert_eq!(refused(w.login(&stranger.get(&w.challenge(Purpose::Login)))), CeremonyError::UnknownCredential);
        // The right id, signed by another key.
        let mut forged = stranger.get(&w.challenge(Purpose::Login));
        forged.credential_id = a.id();
        assert_eq!(refused(w.login(&forged)), CeremonyError::BadSignature);
        // A signature over other data.
        let mut tampered = a.get(&w.challenge(Purpose::Login));
        tampered.authenticator_data[33..37].copy_from_slice(&99u32.to_be_bytes());
        assert_eq!(refused(w.login(&tampered)), CeremonyError::BadSignature);
        // User verification missing; wrong RP; wrong origin.
        a.flags = FLAG_UP;
        assert_eq!(refused(w.login(&a.get(&w.challenge(Purpose::Login)))), CeremonyError::UserNotVerified);
        a.flags = FLAG_UP | FLAG_UV;
        a.rp_id = "evil.example".into();
        assert_eq!(refused(w.login(&a.get(&w.challenge(Purpose::Login)))), CeremonyError::WrongRpId);
        a.rp_id = "mcp.example.com".into();
        a.origin = "https://mcp.example.com:8443".into();
        assert_eq!(refused(w.login(&a.get(&w.challenge(Purpose::Login)))), CeremonyError::WrongOrigin);
        a.origin = ORIGIN.into();
        // Counter: one good login, then a replayed (cloned) counter.
        w.login(&a.get(&w.challenge(Purpose::Login))).unwrap();
        let seen = a.counter;
        assert_eq!(refused(w.login(&a.get_with_counter(&w.challenge(Purpose::Login), seen))), CeremonyError::CounterNotIncreased);
        assert_eq!(refused(w.login(&a.get_with_counter(&w.challenge(Purpose::Login), seen - 1))), CeremonyError::CounterNotIncreased);
        // A removed passkey no longer logs in.
        assert!(block_on(w.store.remove_passkey(&a.id())).unwrap());
        assert_eq!(refused(w.login(&a.get(&w.challenge(Purpose::Login)))), CeremonyError::UnknownCredential);
    }
}

#[test]
fn authenticators_without_a_counter_keep_working_at_zero() {
    let a = Authenticator::new(TestKey::eddsa("k"), "mcp.example.com", ORIGIN);
    let w = World::new();
    w.enrol(&a).unwrap();
    w.login(&a.get_with_counter(&w.challenge(Purpose::Login), 0)).unwrap();
    w.login(&a.get_with_counter(&w.challenge(Purpose::Login), 0)).unwrap();
    w.login(&a.get_with_counter(&w.challenge(Purpose::Login), 5)).unwrap();
    assert_eq!(refused(w.login(&a.get_with_counter(&w.challenge(Purpose::Login), 0))), CeremonyError::CounterNotIncreased);
}

#[test]
fn malformed_answers_are_refused_not_panics() {
    let a = Authenticator::new(TestKey::es256("k"), "mcp.example.com", ORIGIN);
    let w = World::new();
    w.enrol(&a).unwrap();
    let mut garbage = a.get_with_counter(&w.challenge(Purpose::Login), 1);
    garbage.client_data = b"{not json".to_vec();
    assert!(matches!(refused(w.login(&garbage)), CeremonyError::Malformed(_)));
    let mut short = a.get_with_counter(&w.challenge(Purpose::Login), 1);
    short.authenticator_data.truncate(10);
    assert!(matches!(refused(w.login(&short)), CeremonyError::Malformed(_)));
    let mut bad_sig = a.get_with_counter(&w.challenge(Purpose::Login), 1);
    bad_sig.signature = vec![0x30, 0x02, 0x02, 0x00];
    assert_eq!(refused(w.login(&bad_sig)), CeremonyError::BadSignature);
    let reg = crate::identity::sign_in::passkey::flow::Registration { client_data: a.client_data("webauthn.create", &w.challenge(Purpose::Register)), attestation_object: vec![0xa1, 0xff] };
    assert!(matches!(refused(block_on(flow::register(&w.store, &rp(), &browser(), &reg, "x", w.now))), CeremonyError::Malformed(_)));
}

#[test]
fn the_rp_id_is_the_public_host_and_never_an_ip_address() {
    assert_eq!(RelyingParty::for_issuer("https://MCP.example.com").unwrap(), RelyingParty { id: "mcp.example.com".into(), origin: "https://mcp.example.com".into() });
    assert_eq!(RelyingParty::for_issuer("http://localhost:8787").unwrap().origin, "http://localhost:8787");
    assert_eq!(RelyingParty::for_issuer("http://127.0.0.1:8787"), None);
    assert_eq!(RelyingParty::for_issuer("http://[::1]:8787"), None);
}

#[test]
fn the_passkey_cap_holds_in_the_adding_statement_too() {
    let w = World::new();
    let a = Authenticator::new(TestKey::es256("first"), "mcp.example.com", ORIGIN);
    let first = w.enrol(&a).unwrap();
    // Registrations verified while there was room, added once there is none
    // (two concurrent additions at 19): the add itself refuses.
    for i in 1..crate::identity::sign_in::passkey::MAX_PASSKEYS {
        block_on(flow::add(&w.store, &crate::identity::sign_in::passkey::Passkey { id: format!("other-{i}"), ..first.clone() })).unwrap();
    }
    let late = crate::identity::sign_in::passkey::Passkey { id: "one-too-many".into(), ..first };
    match block_on(flow::add(&w.store, &late)) {
        Err(FlowError::Failed(e)) => assert!(e.description.contains("20 passkeys"), "{}", e.description),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(block_on(w.store.passkeys()).unwrap().len(), crate::identity::sign_in::passkey::MAX_PASSKEYS);
}
