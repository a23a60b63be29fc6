//! How a person signed in, kept in the browser session (managing passkeys
//! needs a passkey sign-in) and named in audit events.

/// How the person proved who they are. Kept in the session: managing
/// passkeys needs a passkey login.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginMethod {
    Password,
    Passkey,
    Oidc,
    Github,
    Access,
}

impl LoginMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            LoginMethod::Password => "password",
            LoginMethod::Passkey => "passkey",
            LoginMethod::Oidc => "oidc",
            LoginMethod::Github => "github",
            LoginMethod::Access => "access",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [LoginMethod::Password, LoginMethod::Passkey, LoginMethod::Oidc, LoginMethod::Github, LoginMethod::Access]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_round_trip() {
        for m in [LoginMethod::Password, LoginMethod::Passkey, LoginMethod::Oidc, LoginMethod::Github, LoginMethod::Access] {
            assert_eq!(LoginMethod::parse(m.as_str()), Some(m));
        }
    }
}
