//! Reading the worker's variables: the one error a bad setting produces, and
//! the shapes settings share (numbers in a range, lists).

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

/// A missing or malformed setting. Never carries the value itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration error: {} {}", self.variable, self.problem)
    }
}

/// A bad setting: the variable and what it must be (never its value).
pub fn err(variable: &'static str, problem: &str) -> ConfigError {
    ConfigError { variable, problem: problem.to_string() }
}

/// The worker's variables and secrets, as `Config::from_lookup` is given them.
pub struct Vars<'a, G: Fn(&str) -> Option<String>>(pub &'a G);

impl<G: Fn(&str) -> Option<String>> Vars<'_, G> {
    /// A setting's value, trimmed; `None` when unset or blank.
    pub fn set(&self, name: &str) -> Option<String> {
        (self.0)(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }
}

/// A number in `range`, or `default` when unset or blank; anything else is
/// an error naming the variable and saying what it `must` be (never the value).
pub fn number<T>(get: &impl Fn(&str) -> Option<String>, name: &'static str, default: T, range: RangeInclusive<T>, must: &str) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd,
{
    match get(name).filter(|s| !s.trim().is_empty()) {
        None => Ok(default),
        Some(v) => match v.trim().parse::<T>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(ConfigError { variable: name, problem: must.to_string() }),
        },
    }
}

/// An `on` / `off` setting (any case), `default` when unset or blank.
pub fn switch(get: &impl Fn(&str) -> Option<String>, name: &'static str, default: bool) -> Result<bool, ConfigError> {
    match get(name).map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") => Ok(default),
        Some("on") => Ok(true),
        Some("off") => Ok(false),
        Some(_) if default => Err(err(name, "must be `on` (the default) or `off`")),
        Some(_) => Err(err(name, "must be `on` or `off` (the default)")),
    }
}

/// A list setting: entries separated by spaces or commas.
pub fn list(raw: Option<String>) -> Vec<String> {
    raw.unwrap_or_default().split(|c: char| c.is_whitespace() || c == ',').filter(|s| !s.is_empty()).map(str::to_string).collect()
}
