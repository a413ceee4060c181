//! Checksums in state files. A snapshot file and each journal line is a
//! JSON object whose last member is `"checksum": "sha256:<hex>"`, the
//! SHA-256 of the exact bytes the object has without that member (so
//! `sha256sum` can check it by hand). SHA-256 because it is the standard
//! digest any tool can recompute, it tells any change from none (a flipped
//! bit, a truncation, an edit), and at state sizes (kilobytes to a few
//! megabytes, once per compaction; a few hundred bytes per journal line) its
//! cost doesn't show. Objects without a checksum (written by keel before
//! checksums) are read as before.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The member's name.
const KEY: &str = "checksum";

/// How an object is laid out: a snapshot is pretty-printed, a journal line
/// compact. The checksum member goes just before the closing brace.
#[derive(Clone, Copy, Debug)]
pub(super) enum Style {
    /// `serde_json::to_vec_pretty`: members on lines of their own.
    Pretty,
    /// `serde_json::to_vec`: one line.
    Compact,
}

impl Style {
    /// What comes before the member and what closes the object.
    fn parts(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Style::Pretty => (",\n  ", ": ", "\n}"),
            Style::Compact => (",", ":", "}"),
        }
    }
}

/// The checksum of `bytes` as written in files.
pub(super) fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// `object` (serialized JSON in `style`) with its checksum as last member.
pub(super) fn seal(object: &[u8], style: Style) -> Vec<u8> {
    let (sep, colon, close) = style.parts();
    let Some(open) = object.strip_suffix(close.as_bytes()) else {
        // Not an object in this style (an empty object): nothing to seal.
        return object.to_vec();
    };
    let mut out = Vec::with_capacity(object.len() + 90);
    out.extend_from_slice(open);
    out.extend_from_slice(format!("{sep}\"{KEY}\"{colon}\"{}\"{close}", digest(object)).as_bytes());
    out
}

/// What the checksum of an object says.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Seal {
    /// It matches.
    Verified,
    /// There is none (written before checksums).
    Absent,
    /// It doesn't match, or isn't where keel writes it: the bytes changed
    /// after keel wrote them.
    Mismatch(String),
}

/// Parses `text`, a JSON object in `style` perhaps sealed by [`seal`]: the
/// object without its checksum member, and what the checksum says. A syntax
/// error (a truncated or garbled object) is returned as is.
pub(super) fn open(text: &str, style: Style) -> Result<(Map<String, Value>, Seal), String> {
    let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let Value::Object(mut object) = value else {
        return Err("not a JSON object".to_string());
    };
    let Some(recorded) = object.remove(KEY) else {
        return Ok((object, Seal::Absent));
    };
    let seal = match (recorded.as_str(), body(text, style)) {
        (Some(recorded), Some((body, found))) if recorded == found => {
            let actual = digest(body.as_bytes());
            if actual == recorded {
                Seal::Verified
            } else {
                Seal::Mismatch(format!(
                    "its checksum is {recorded} but its content hashes to {actual}: the content changed after keel wrote it"
                ))
            }
        }
        _ => Seal::Mismatch(
            "its checksum member is not where keel writes it (the file was reformatted or edited)"
                .to_string(),
        ),
    };
    Ok((object, seal))
}

/// The bytes `seal` hashed, rebuilt from a sealed `text`, and the checksum
/// as written; `None` if the text doesn't end the way `seal` ends it.
fn body(text: &str, style: Style) -> Option<(String, &str)> {
    let (sep, colon, close) = style.parts();
    let text = text.trim_end();
    let inner = text.strip_suffix(close)?.strip_suffix('"')?;
    let marker = format!("{sep}\"{KEY}\"{colon}\"");
    let at = inner.rfind(&marker)?;
    let found = &inner[at + marker.len()..];
    Some((format!("{}{close}", &text[..at]), found))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sealed_objects_verify_in_both_styles() {
        let value = json!({"serial": 3, "resources": [{"urn": "u", "inputs": {"x": 1.5}}]});
        for (style, bytes) in [
            (Style::Pretty, serde_json::to_vec_pretty(&value).unwrap()),
            (Style::Compact, serde_json::to_vec(&value).unwrap()),
        ] {
            let sealed = String::from_utf8(seal(&bytes, style)).unwrap();
            assert!(sealed.contains("\"checksum\""), "{sealed}");
            let (object, seal) = open(&sealed, style).unwrap();
            assert_eq!(seal, Seal::Verified, "{style:?}");
            assert_eq!(Value::Object(object), value);
            // A trailing newline (the snapshot file has one) changes nothing.
            assert_eq!(
                open(&format!("{sealed}\n"), style).unwrap().1,
                Seal::Verified
            );
        }
    }

    #[test]
    fn the_checksum_is_the_sha256_of_the_unsealed_bytes() {
        let sealed = String::from_utf8(seal(br#"{"a":1}"#, Style::Compact)).unwrap();
        assert_eq!(
            sealed,
            r#"{"a":1,"checksum":"sha256:015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862"}"#
        );
    }

    #[test]
    fn any_change_is_a_mismatch_and_no_checksum_is_absent() {
        let sealed = String::from_utf8(seal(br#"{"id":"vpc-1","n":10}"#, Style::Compact)).unwrap();
        let edited = sealed.replace("vpc-1", "vpc-2");
        assert!(
            matches!(open(&edited, Style::Compact).unwrap().1, Seal::Mismatch(m) if m.contains("hashes to"))
        );
        let moved = format!(
            r#"{{"checksum":{},"id":"vpc-1","n":10}}"#,
            serde_json::to_string(&digest(br#"{"id":"vpc-1","n":10}"#)).unwrap()
        );
        assert!(
            matches!(open(&moved, Style::Compact).unwrap().1, Seal::Mismatch(m) if m.contains("reformatted"))
        );
        assert_eq!(
            open(r#"{"id":"vpc-1"}"#, Style::Compact).unwrap().1,
            Seal::Absent
        );
        assert!(open(r#"{"id":"vpc-"#, Style::Compact).is_err());
    }
}
