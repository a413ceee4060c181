//! Sensitive values in plans and messages: which parts of a resource's
//! resolved inputs are secret (the fields its type marks
//! `#[resource(sensitive)]` and wherever the program passed an
//! [`Input::secret`](crate::Input::secret) or a secret
//! [`Output`](crate::Output::secret)), as JSON pointers (`/user_data`,
//! `/routes/0/target`), and how they are kept out of what keel prints:
//! property changes show `[sensitive]`, and provider error messages have
//! any secret text in them replaced by `[sensitive]`. The same pointers are
//! recorded in state (`ResourceState::secret_paths`), where
//! `state::secrets` seals them.

use super::PropertyChange;
use super::diff::top_field;
use crate::provider::ProviderError;
use crate::resource::{FieldRule, ListRule};
use serde_json::Value;

/// What keel shows instead of a sensitive value.
pub const SENSITIVE: &str = "[sensitive]";

/// The secret paths of resolved `inputs`: each field `rules` mark sensitive
/// that `inputs` holds, and `declared` (the template's secret pointers).
/// Sorted, with paths inside another one left out (the outer one covers
/// them).
pub(crate) fn secret_paths(
    rules: &[FieldRule],
    declared: &[String],
    inputs: &Value,
) -> Vec<String> {
    let mut paths: Vec<String> = rules
        .iter()
        .filter(|r| r.sensitive && inputs.get(r.name).is_some_and(|v| !v.is_null()))
        .map(|r| format!("/{}", crate::resource::pointer_token(r.name)))
        .chain(declared.iter().cloned())
        .collect();
    paths.sort();
    paths.dedup();
    let all = paths.clone();
    paths.retain(|p| !all.iter().any(|outer| inside(p, outer)));
    paths
}

/// Whether pointer `p` is strictly inside pointer `outer`.
fn inside(p: &str, outer: &str) -> bool {
    p.len() > outer.len() && p.starts_with(outer) && p.as_bytes()[outer.len()] == b'/'
}

/// The leaf path a diff shows for JSON pointer `pointer`
/// (`/routes/0/target` is `routes[0].target`).
fn leaf_path(pointer: &str) -> String {
    let mut out = String::new();
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        if !out.is_empty() && !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{token}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&token);
        }
    }
    out
}

/// Whether the change at leaf path `path` shows a secret: its field is
/// sensitive by rule, it lies at or under a secret pointer, or its field is
/// a set (whose elements a diff labels by key, not position) holding one.
fn is_secret(path: &str, rules: &[FieldRule], secrets: &[&String]) -> bool {
    let field = top_field(path);
    let rule = rules.iter().find(|r| r.name == field);
    if rule.is_some_and(|r| r.sensitive) {
        return true;
    }
    let set = rule.is_some_and(|r| !matches!(r.list, ListRule::Ordered));
    secrets.iter().any(|pointer| {
        let leaf = leaf_path(pointer);
        if set && top_field(&leaf) == field {
            return true;
        }
        path == leaf
            || path
                .strip_prefix(leaf.as_str())
                .is_some_and(|rest| rest.starts_with(['.', '[']))
    })
}

/// Marks the changes that show a secret (by the type's `rules`, or under
/// any of `secret_paths`) sensitive and replaces their values with
/// `[sensitive]`.
pub(crate) fn hide(
    changes: &mut [PropertyChange],
    rules: &[FieldRule],
    secret_paths: &[&[String]],
) {
    let secrets: Vec<&String> = secret_paths.iter().flat_map(|p| p.iter()).collect();
    for c in changes.iter_mut() {
        if !is_secret(&c.path, rules, &secrets) {
            continue;
        }
        c.sensitive = true;
        for v in [&mut c.before, &mut c.after].into_iter().flatten() {
            *v = Value::String(SENSITIVE.to_string());
        }
    }
}

/// The text of every secret in `inputs` (at `secret_paths`): each string
/// leaf, and the JSON of each non-string value.
fn secret_texts(inputs: &Value, secret_paths: &[String]) -> Vec<String> {
    fn leaves(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(items) => items.iter().for_each(|v| leaves(v, out)),
            Value::Object(map) => map.values().for_each(|v| leaves(v, out)),
            Value::Null => {}
            other => out.push(other.to_string()),
        }
    }
    let mut out = Vec::new();
    for v in secret_paths.iter().filter_map(|p| inputs.pointer(p)) {
        if !v.is_string() {
            out.push(v.to_string());
        }
        leaves(v, &mut out);
    }
    // Longest first, so a secret that contains another is replaced whole;
    // very short values would blank out ordinary words.
    out.retain(|s| s.len() >= 4);
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out.dedup();
    out
}

/// `error` with every secret of `inputs` (at `secret_paths`) that its
/// message repeats (as it is, JSON-escaped, or base64-encoded as AWS
/// carries user data) replaced by `[sensitive]`.
pub(crate) fn redact(
    mut error: ProviderError,
    inputs: &Value,
    secret_paths: &[String],
) -> ProviderError {
    use base64::Engine;
    for secret in secret_texts(inputs, secret_paths) {
        let escaped = Value::String(secret.clone()).to_string();
        let escaped = &escaped[1..escaped.len() - 1];
        let encoded = base64::engine::general_purpose::STANDARD.encode(&secret);
        for form in [secret.as_str(), escaped, encoded.as_str()] {
            if error.message.contains(form) {
                error.message = error.message.replace(form, SENSITIVE);
            }
        }
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const fn rule(name: &'static str, list: ListRule, sensitive: bool) -> FieldRule {
        FieldRule {
            name,
            replace: false,
            immutable: false,
            list,
            sensitive,
        }
    }

    #[test]
    fn secret_paths_join_rules_and_declared_pointers_without_nesting() {
        let rules = [
            rule("user_data", ListRule::Ordered, true),
            rule("absent", ListRule::Ordered, true),
        ];
        let inputs = json!({"user_data": "x", "env": {"a": ["p", "q"]}});
        let declared = vec!["/env/a/1".to_string(), "/env".to_string()];
        assert_eq!(
            secret_paths(&rules, &declared, &inputs),
            ["/env", "/user_data"]
        );
        assert_eq!(leaf_path("/routes/0/target"), "routes[0].target");
        assert_eq!(leaf_path("/tags/a~1b"), "tags.a/b");
    }

    #[test]
    fn changes_under_a_secret_show_sensitive() {
        let rules = [rule("ingress", ListRule::Set, false)];
        let before = json!({"env": {"token": "old-token", "region": "x"}, "name": "n", "ingress": [{"p": 1}]});
        let after = json!({"env": {"token": "new-token", "region": "y"}, "name": "m", "ingress": [{"p": 2}]});
        let mut changes = super::super::diff(&before, &after, &rules);
        let paths = ["/env/token".to_string(), "/ingress/0/p".to_string()];
        hide(&mut changes, &rules, &[&paths[..1], &paths[1..]]);
        let shown: Vec<(&str, bool)> = changes
            .iter()
            .map(|c| (c.path.as_str(), c.sensitive))
            .collect();
        assert_eq!(
            shown,
            [
                ("env.region", false),
                ("env.token", true),
                ("ingress[*]", true),
                ("name", false)
            ]
        );
        let text = serde_json::to_string(&changes).unwrap();
        assert!(
            !text.contains("token\":\"") && !text.contains("-token"),
            "{text}"
        );
        assert!(text.contains("\"y\""), "{text}");
    }

    #[test]
    fn error_messages_lose_their_secrets_in_every_form() {
        let inputs = json!({"user_data": "line one\nTOKEN=s3cr3t", "port": 8443, "name": "web"});
        let paths = vec!["/user_data".to_string(), "/port".to_string()];
        let e = ProviderError::aws(
            "InvalidParameterValue",
            "bad user data \"line one\\nTOKEN=s3cr3t\" (bGluZSBvbmUKVE9LRU49czNjcjN0) on port 8443 of web",
        );
        let e = redact(e, &inputs, &paths);
        assert_eq!(
            e.message,
            "bad user data \"[sensitive]\" ([sensitive]) on port [sensitive] of web"
        );
    }
}
