//! URL helpers both APIs need: `%XX` decoding of paths and the query string parameters of
//! API Gateway's events.

/// Decodes `%XX` escapes (invalid escapes and non-UTF-8 results are kept as they are).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_owned())
}

/// `a=1&b=2&a=3` → `[(a, "1,3"), (b, "2")]` in first-seen order, decoded (`+` is a space).
pub(crate) fn query_parameters(raw: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_decode(&k.replace('+', " "));
        let v = percent_decode(&v.replace('+', " "));
        match out.iter_mut().find(|(name, _)| *name == k) {
            Some((_, existing)) => {
                existing.push(',');
                existing.push_str(&v);
            }
            None => out.push((k, v)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode_and_join() {
        assert_eq!(
            query_parameters("a=1&b=x%20y&a=3&c=&d+e=f+g"),
            vec![
                ("a".into(), "1,3".into()),
                ("b".into(), "x y".into()),
                ("c".into(), String::new()),
                ("d e".into(), "f g".into()),
            ]
        );
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }
}
