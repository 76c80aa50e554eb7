//! JSON integers as JSON Schema counts them: `706` and `706.0` are the same integer (clients
//! that only have floats send the second), `706.5` is not one. For `serde(deserialize_with)`
//! on the integer fields of request bodies.

use serde::Deserialize;
use serde::de::{Deserializer, Error};

/// A JSON number as written.
#[derive(Deserialize)]
#[serde(untagged)]
enum Number {
    Signed(i64),
    Unsigned(u64),
    Float(f64),
}

impl Number {
    /// Its integer value, if it has one.
    fn integral(self) -> Option<i128> {
        match self {
            Self::Signed(i) => Some(i128::from(i)),
            Self::Unsigned(u) => Some(i128::from(u)),
            // Below 2^63 in magnitude, so the conversion is exact.
            Self::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Some(f as i128),
            Self::Float(_) => None,
        }
    }
}

fn convert<T: TryFrom<i128>, E: Error>(n: Number) -> Result<T, E> {
    let value = n
        .integral()
        .ok_or_else(|| E::custom("invalid type: expected an integer"))?;
    T::try_from(value).map_err(|_| E::custom(format!("integer {value} is out of range")))
}

/// An integer field.
pub fn exact<'de, D: Deserializer<'de>, T: TryFrom<i128>>(d: D) -> Result<T, D::Error> {
    convert(Number::deserialize(d)?)
}

/// An optional integer field (`null` is `None`).
pub fn optional<'de, D: Deserializer<'de>, T: TryFrom<i128>>(d: D) -> Result<Option<T>, D::Error> {
    Option::<Number>::deserialize(d)?.map(convert).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(default, deserialize_with = "exact")]
        n: u32,
        #[serde(default, deserialize_with = "optional")]
        m: Option<i64>,
    }

    fn parse(json: &str) -> Result<Body, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn zero_fractions_are_integers_and_others_are_refused() {
        let b = parse(r#"{"n": 5.0, "m": -706.0}"#).unwrap();
        assert_eq!((b.n, b.m), (5, Some(-706)));
        assert_eq!(parse(r#"{"m": null}"#).unwrap().m, None);
        assert!(parse(r#"{"n": 5.5}"#).is_err());
        assert!(parse(r#"{"n": -1}"#).is_err());
        assert!(parse(r#"{"n": 1e300}"#).is_err());
        assert!(parse(r#"{"n": "5"}"#).is_err());
    }
}
