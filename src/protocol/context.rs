//! What every endpoint is handed: configuration, storage, the issuer this
//! request speaks for, and the current time (passed in so tests control it).

use crate::config::Config;

pub struct Ctx<'a, S> {
    pub config: &'a Config,
    pub store: &'a S,
    pub issuer: String,
    pub now: i64,
}
