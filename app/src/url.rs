//! Addresses the pages link to: percent-encoding of path segments and
//! query values, the same on the server and in the browser (so links
//! rendered on either side are identical).

/// `text` as one path segment or query value.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte));
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// `path` with the given query parameters (those with a value), encoded.
pub fn with_query<'a>(
    path: &str,
    params: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> String {
    let query: Vec<String> = params
        .into_iter()
        .filter_map(|(key, value)| value.map(|value| format!("{key}={}", encode(value))))
        .collect();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(encode("schedule:a b/c"), "schedule%3Aa%20b%2Fc");
        assert_eq!(encode("plain-id_1.2~"), "plain-id_1.2~");
        assert_eq!(encode("é&="), "%C3%A9%26%3D");
    }

    #[test]
    fn queries_keep_only_given_values() {
        assert_eq!(
            with_query("/jobs", [("state", None), ("queue", None)]),
            "/jobs"
        );
        assert_eq!(
            with_query(
                "/jobs",
                [
                    ("state", Some("failed")),
                    ("type", None),
                    ("id", Some("a b"))
                ]
            ),
            "/jobs?state=failed&id=a%20b"
        );
    }
}
