//! Property-level diff of two input documents: flattened leaf paths
//! (`routes[0].destination_cidr_block`), before and after, unknown values, and
//! whether a change forces replacement (by the top-level field's rule).
//! Set-like list fields ([`ListRule::Set`], [`ListRule::Keyed`]) are
//! compared as sets: reordering is no change, an element added or removed is
//! one change (`ingress[*]`), and a keyed element that changed is diffed
//! under its key (`routes[0.0.0.0/0].target.nat_gateway`).

use crate::resource::{FieldRule, ListRule, UNKNOWN};
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
    /// The values are sensitive: shown as `[sensitive]`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
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
pub(super) fn top_field(path: &str) -> &str {
    let end = path.find(['.', '[']).unwrap_or(path.len());
    &path[..end]
}

/// The label of a set element: its key, or `*` for a set of plain values.
fn set_entries(
    items: &[Value],
    key: Option<fn(&Value) -> Option<String>>,
) -> Vec<(String, &Value)> {
    items
        .iter()
        .map(|v| {
            let label = key.and_then(|k| k(v)).unwrap_or_else(|| "*".to_string());
            (label, v)
        })
        .collect()
}

/// Flattens `before` and `after`; set-like fields are matched element by
/// element first, so only the elements that differ are left to flatten.
fn flatten_both(
    before: &Value,
    after: &Value,
    rules: &[FieldRule],
) -> (BTreeMap<String, Value>, BTreeMap<String, Value>) {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    let empty = serde_json::Map::new();
    let (ma, mb) = (
        before.as_object().unwrap_or(&empty),
        after.as_object().unwrap_or(&empty),
    );
    let mut fields: Vec<&String> = ma.keys().chain(mb.keys()).collect();
    fields.sort();
    fields.dedup();
    for field in fields {
        let (old, new) = (ma.get(field), mb.get(field));
        let set_key = rules
            .iter()
            .find(|r| r.name == field.as_str())
            .and_then(|r| match r.list {
                ListRule::Ordered => None,
                ListRule::Set => Some(None),
                ListRule::Keyed(k) => Some(Some(k)),
            });
        let Some(key) = set_key else {
            if let Some(v) = old {
                flatten(field, v, &mut a);
            }
            if let Some(v) = new {
                flatten(field, v, &mut b);
            }
            continue;
        };
        let as_list = |v: Option<&Value>| v.and_then(Value::as_array).cloned().unwrap_or_default();
        let (olds, news) = (as_list(old), as_list(new));
        let mut unmatched_new: Vec<(String, &Value)> = set_entries(&news, key);
        let mut removed = Vec::new();
        for (label, v) in set_entries(&olds, key) {
            // An equal element first; else, for keyed sets, one with the same key.
            let same = unmatched_new.iter().position(|(_, n)| *n == v);
            let same = same.or_else(|| {
                key.and(
                    unmatched_new
                        .iter()
                        .position(|(l, _)| *l == label && label != "*"),
                )
            });
            match same {
                Some(i) => {
                    let (_, n) = unmatched_new.remove(i);
                    if n != v {
                        flatten(&format!("{field}[{label}]"), v, &mut a);
                        flatten(&format!("{field}[{label}]"), n, &mut b);
                    }
                }
                None => removed.push((label, v)),
            }
        }
        // Unmatched elements are shown whole, one line each; several with
        // the same label get a number so none hides another.
        for (side, entries) in [(&mut a, removed), (&mut b, unmatched_new)] {
            for (i, (label, v)) in entries.into_iter().enumerate() {
                let path = if label == "*" {
                    format!(
                        "{field}[*{}]",
                        if i == 0 { String::new() } else { i.to_string() }
                    )
                } else {
                    format!("{field}[{label}]")
                };
                let whole = if contains_unknown_value(v) {
                    Value::String(UNKNOWN.to_string())
                } else {
                    v.clone()
                };
                side.insert(path, whole);
            }
        }
    }
    (a, b)
}

fn contains_unknown_value(v: &Value) -> bool {
    crate::resource::contains_unknown(v)
}

/// The differences between `before` and `after`, in path order. `rules`
/// are the resource type's field rules: which top-level fields force
/// replacement, which lists compare as sets, which values are sensitive.
///
/// ```
/// use keel::plan::diff;
/// use keel::prelude::*;
/// use serde_json::json;
/// let changes = diff(
///     &json!({"cidr_block": "10.0.0.0/24", "tags": {"a": "1"}}),
///     &json!({"cidr_block": "10.0.1.0/24", "tags": {"a": "1"}}),
///     Subnet::FIELDS,
/// );
/// assert_eq!(changes.len(), 1);
/// assert!(changes[0].forces_replacement);
/// ```
pub fn diff(before: &Value, after: &Value, rules: &[FieldRule]) -> Vec<PropertyChange> {
    let (a, b) = flatten_both(before, after, rules);
    let mut paths: Vec<&String> = a.keys().chain(b.keys()).collect();
    paths.sort();
    paths.dedup();
    let mut changes: Vec<PropertyChange> = paths
        .into_iter()
        .filter_map(|path| {
            let (old, new) = (a.get(path), b.get(path));
            let unknown = new.is_some_and(|v| v.as_str() == Some(UNKNOWN));
            if old == new && !unknown {
                return None;
            }
            let rule = rules.iter().find(|r| r.name == top_field(path));
            Some(PropertyChange {
                path: path.clone(),
                before: old.cloned(),
                after: if unknown { None } else { new.cloned() },
                after_unknown: unknown,
                forces_replacement: rule.is_some_and(|r| r.replace),
                sensitive: false,
            })
        })
        .collect();
    super::sensitive::hide(&mut changes, rules, &[]);
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const fn rule(name: &'static str, replace: bool, list: ListRule) -> FieldRule {
        FieldRule {
            name,
            replace,
            immutable: false,
            list,
            sensitive: false,
        }
    }

    fn by_dst(v: &Value) -> Option<String> {
        v.get("dst").and_then(Value::as_str).map(str::to_string)
    }

    #[test]
    fn nested_paths_added_removed_and_unknown() {
        let before = json!({"vpc_id": "vpc-1", "routes": [{"dst": "0.0.0.0/0", "nat": "nat-1"}], "tags": {"a": "1"}});
        let after = json!({"vpc_id": UNKNOWN, "routes": [], "tags": {"a": "1", "b": "2"}});
        let changes = diff(&before, &after, &[rule("vpc_id", true, ListRule::Ordered)]);
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

    #[test]
    fn sets_ignore_order_and_show_one_line_per_element() {
        let rules = [rule("ingress", false, ListRule::Set)];
        let a = json!({"protocol": "tcp", "from_port": 443});
        let b = json!({"protocol": "tcp", "from_port": 80});
        let c = json!({"protocol": "udp", "from_port": 53});
        let before = json!({ "ingress": [a, b] });
        assert!(diff(&before, &json!({ "ingress": [b, a] }), &rules).is_empty());
        let added = diff(&before, &json!({ "ingress": [b, c, a] }), &rules);
        assert_eq!(added.len(), 1, "{added:?}");
        assert_eq!(added[0].path, "ingress[*]");
        assert_eq!(
            (added[0].before.as_ref(), added[0].after.as_ref()),
            (None, Some(&c))
        );
        let removed = diff(&before, &json!({ "ingress": [b] }), &rules);
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].before.as_ref(), Some(&a));
        // Without the rule the same lists differ by position.
        assert!(!diff(&before, &json!({ "ingress": [b, a] }), &[]).is_empty());
    }

    #[test]
    fn keyed_sets_diff_changed_elements_under_their_key() {
        let rules = [rule("routes", false, ListRule::Keyed(by_dst))];
        let before = json!({"routes": [{"dst": "0.0.0.0/0", "nat": "nat-1"}, {"dst": "10.1.0.0/16", "nat": "nat-9"}]});
        let after = json!({"routes": [{"dst": "10.1.0.0/16", "nat": "nat-9"}, {"dst": "0.0.0.0/0", "nat": UNKNOWN}]});
        let changes = diff(&before, &after, &rules);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].path, "routes[0.0.0.0/0].nat");
        assert!(changes[0].after_unknown);
    }
}
