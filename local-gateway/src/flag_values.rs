//! Value parsers for command-line flags (clap's `value_parser = …`), shared by `banter-local`
//! and `banter-bench`: values are trimmed (environment variables often carry stray
//! whitespace) and an error says what was expected, which clap prints with the flag.

use std::ffi::OsStr;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use clap::builder::{PossibleValue, TypedValueParser};

use crate::config::parse_duration;

/// A duration: `500ms`, `30s`, `10m`, `2h`, or plain seconds.
pub fn duration(raw: &str) -> Result<Duration, String> {
    parse_duration(raw).ok_or_else(|| {
        format!("{raw:?} is not a duration (500ms, 30s, 10m, 2h; plain numbers are seconds)")
    })
}

/// A whole number.
pub fn number<T: FromStr>(raw: &str) -> Result<T, String> {
    raw.trim()
        .parse()
        .map_err(|_| format!("{raw:?} is not a number"))
}

/// A count that must be at least 1 (subscribers, comments, environments …).
pub fn at_least_one(raw: &str) -> Result<usize, String> {
    match number::<usize>(raw)? {
        0 => Err("must be at least 1".into()),
        n => Ok(n),
    }
}

/// A size limit in bytes: at least 1 (larger than memory saturates).
pub fn bytes(raw: &str) -> Result<usize, String> {
    match number::<u64>(raw)? {
        0 => Err("size limits must be at least 1 byte".into()),
        n => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
    }
}

/// A TCP port (0: any free port).
pub fn port(raw: &str) -> Result<u16, String> {
    let n = number::<u64>(raw)?;
    u16::try_from(n).map_err(|_| format!("{n} is not a port"))
}

/// An IPv4 or IPv6 address.
pub fn ip(raw: &str) -> Result<IpAddr, String> {
    raw.trim()
        .parse()
        .map_err(|_| format!("{raw:?} is not an IP address"))
}

/// An on/off switch's environment value: anything but `0`, `false`, `no` or blank is on
/// (so `BANTER_LOCAL_SEED=1` seeds). On the command line a switch takes no value.
pub fn switch(raw: &str) -> Result<bool, String> {
    Ok(!matches!(raw.trim(), "0" | "false" | "no" | ""))
}

/// Another parser on the value with surrounding whitespace removed, keeping its possible
/// values for `--help` (`Trimmed(EnumValueParser::<Kind>::new())`).
#[derive(Debug, Clone)]
pub struct Trimmed<P>(pub P);

impl<P: TypedValueParser> TypedValueParser for Trimmed<P> {
    type Value = P::Value;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<Self::Value, clap::Error> {
        let trimmed = value.to_str().map_or(value, |v| OsStr::new(v.trim()));
        self.0.parse_ref(cmd, arg, trimmed)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        self.0.possible_values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_trimmed_and_checked() {
        assert_eq!(port(" 4000 "), Ok(4000));
        assert!(port("70000").is_err());
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(duration("-5ms").is_err());
        assert_eq!(at_least_one("3"), Ok(3));
        assert!(at_least_one("0").is_err());
        assert!(bytes("0").is_err());
        assert_eq!(switch("1"), Ok(true));
        assert_eq!(switch(" no "), Ok(false));
        assert!(ip("localhost").is_err());
    }
}
