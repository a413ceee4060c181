//! Property-level diff of two input documents: flattened leaf paths
//! (`routes[0].destination_cidr_block`), before and after, unknown values, and
//! whether a change forces replacement (by the top-level field).

use crate::resource::UNKNOWN;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// One changed property.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PropertyChange {
    /// The leaf path, e.g. `cidr_block` or `tags.team`.
    pub path: String,
    /// The recorded value (`None`: the property is new).
    pub before: Option<Value>,
    /// The new value (`None`: removed, or unknown if `after_unknown`).
    pub after: Option<Value>,
    /// The new value is only known after apply.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub after_unknown: bool,
    /// Changing this property replaces the resource.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub forces_replacement: bool,
}

fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&path, v, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), v, out);
            }
        }
        // Absent, null and empty collections mean the same to every type.
        Value::Null => {}
        Value::Object(_) | Value::Array(_) => {}
        other => {
            out.insert(prefix.to_string(), other.clone());
        }
    }
}

/// The top-level field of a leaf path.
fn top_field(path: &str) -> &str {
    let end = path.find(['.', '[']).unwrap_or(path.len());
    &path[..end]
}

/// The differences between `before` and `after`, in path order.
/// `replace_on` names the top-level fields whose change forces replacement.
///
/// ```
/// use keel::plan::diff;
/// use serde_json::json;
/// let changes = diff(
///     &json!({"cidr_block": "10.0.0.0/24", "tags": {"a": "1"}}),
///     &json!({"cidr_block": "10.0.1.0/24", "tags": {"a": "1"}}),
///     &["cidr_block"],
/// );
/// assert_eq!(changes.len(), 1);
/// assert!(changes[0].forces_replacement);
/// ```
pub fn diff(before: &Value, after: &Value, replace_on: &[&str]) -> Vec<PropertyChange> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    flatten("", before, &mut a);
    flatten("", after, &mut b);
    let mut paths: Vec<&String> = a.keys().chain(b.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter_map(|path| {
            let (old, new) = (a.get(path), b.get(path));
            let unknown = new.is_some_and(|v| v.as_str() == Some(UNKNOWN));
            if old == new && !unknown {
                return None;
            }
            Some(PropertyChange {
                path: path.clone(),
                before: old.cloned(),
                after: if unknown { None } else { new.cloned() },
                after_unknown: unknown,
                forces_replacement: replace_on.contains(&top_field(path)),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_paths_added_removed_and_unknown() {
        let before = json!({"vpc_id": "vpc-1", "routes": [{"dst": "0.0.0.0/0", "nat": "nat-1"}], "tags": {"a": "1"}});
        let after = json!({"vpc_id": UNKNOWN, "routes": [], "tags": {"a": "1", "b": "2"}});
        let changes = diff(&before, &after, &["vpc_id"]);
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(
            paths,
            vec!["routes[0].dst", "routes[0].nat", "tags.b", "vpc_id"]
        );
        let vpc = &changes[3];
        assert!(vpc.after_unknown && vpc.forces_replacement && vpc.after.is_none());
        assert_eq!(changes[2].before, None);
        assert_eq!(changes[0].after, None);
        assert!(!changes[0].forces_replacement);
    }

    #[test]
    fn equal_documents_have_no_changes_and_nulls_are_absent() {
        let v = json!({"a": [1, 2], "b": {"c": true}, "d": null});
        assert!(diff(&v, &json!({"a": [1, 2], "b": {"c": true}}), &[]).is_empty());
        assert_eq!(top_field("routes[3].x"), "routes");
        assert_eq!(top_field("tags.keel:urn"), "tags");
    }
}
