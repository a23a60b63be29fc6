//! The owner password as a login method, and switching it off
//! (`PASSWORD_LOGIN=off`): then the sign-in pages show no password field and
//! every password form is refused with a page saying why, so an owner who
//! signs in only through Cloudflare Access (or another method) has no shared
//! password that could be guessed.

use crate::base::page;
use crate::config::Config;
use crate::base::http::HttpResponse;

pub const SWITCHED_OFF: &str =
    "Password sign-in is switched off on this server (PASSWORD_LOGIN=off). Sign in with the method its owner configured instead.";

/// Whether the owner password signs in here.
pub fn enabled(config: &Config) -> bool {
    config.password_enabled()
}

/// The answer to a password form while password sign-in is off.
pub fn switched_off_page() -> HttpResponse {
    page::error_page(403, "Password sign-in is switched off", SWITCHED_OFF)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const KEY: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc";

    fn config(pairs: &[(&str, &str)]) -> Result<Config, crate::config::ConfigError> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    const ACCESS: [(&str, &str); 2] = [("CF_ACCESS_TEAM_DOMAIN", "https://team.cloudflareaccess.com"), ("CF_ACCESS_AUD", "aud-tag")];

    #[test]
    fn on_by_default_and_then_the_password_is_required() {
        let c = config(&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse")]).unwrap();
        assert!(enabled(&c));
        let e = config(&[("SIGNING_KEY", KEY)]).unwrap_err();
        assert_eq!(e.variable, "OWNER_PASSWORD");
        assert!(e.problem.contains("PASSWORD_LOGIN=off"), "{e}");
    }

    #[test]
    fn off_needs_no_password_but_another_method() {
        let mut pairs = vec![("SIGNING_KEY", KEY), ("PASSWORD_LOGIN", "off")];
        let e = config(&pairs).unwrap_err();
        assert_eq!(e.variable, "PASSWORD_LOGIN");
        assert!(e.problem.contains("no other login method"), "{e}");
        pairs.extend(ACCESS);
        let c = config(&pairs).unwrap();
        assert!(!enabled(&c));
        assert!(c.owner_password.is_none());
        // A password left behind as a secret is not used once sign-in by password is off.
        pairs.push(("OWNER_PASSWORD", "correct horse"));
        let c = config(&pairs).unwrap();
        assert!(!enabled(&c) && c.owner_password.is_none());
    }

    #[test]
    fn only_on_or_off() {
        for v in ["yes", "false", "0"] {
            let e = config(&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("PASSWORD_LOGIN", v)]).unwrap_err();
            assert_eq!(e.variable, "PASSWORD_LOGIN");
        }
        let c = config(&[("SIGNING_KEY", KEY), ("OWNER_PASSWORD", "correct horse"), ("PASSWORD_LOGIN", " ON ")]).unwrap();
        assert!(enabled(&c));
    }

    #[test]
    fn the_refusal_is_a_page_that_says_why() {
        let r = switched_off_page();
        assert_eq!(r.status, 403);
        assert!(r.body.contains("PASSWORD_LOGIN=off"));
    }
}
