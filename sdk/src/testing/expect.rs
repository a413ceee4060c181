//! Typed assertions over the declared stack, for a user's `#[test]`: one
//! resource by name ([`expect`]), a property every or some resource of a
//! type has ([`assert_all`], [`assert_any`]), and counts
//! ([`assert_count`]). Matchers are plain closures over the typed struct;
//! a failure says what was expected, what was found, and the closest names
//! when a name is wrong. Built on [`Stack::resources`] and [`Stack::get`].

use crate::resource::Resource;
use crate::stack::{Declaration, Stack};
use std::fmt::{Debug, Write};

/// The declared resource of type `R` named `name`. Panics with the names
/// of that type closest to `name` (and the types that have a resource of
/// that name) when there is none.
///
/// ```
/// use keel::prelude::*;
/// use keel::testing::expect;
/// let mut stack = Stack::new("demo");
/// stack.add("main", Vpc::new("10.0.0.0/16"));
/// assert_eq!(expect::<Vpc>(&stack, "main").cidr_block, "10.0.0.0/16");
/// ```
///
/// ```should_panic
/// # use keel::prelude::*;
/// # use keel::testing::expect;
/// # let mut stack = Stack::new("demo");
/// # stack.add("main", Vpc::new("10.0.0.0/16"));
/// // panics: no Vpc named "mian"; closest: main
/// expect::<Vpc>(&stack, "mian");
/// ```
#[track_caller]
pub fn expect<'a, R: Resource>(stack: &'a Stack, name: &str) -> Declaration<'a, R> {
    if let Some(found) = stack.get::<R>(name) {
        return found;
    }
    let mut message = format!("no {} named \"{name}\" in stack {}", R::TYPE, stack.name());
    let closest = closest(stack.resources::<R>().map(|d| d.name()), name);
    if closest.is_empty() {
        let _ = write!(message, "; the stack declares no {}", R::TYPE);
    } else {
        let _ = write!(message, "; closest: {}", closest.join(", "));
    }
    let other: Vec<&str> = (stack.urns().filter(|u| u.name() == name))
        .map(|u| u.type_token())
        .collect();
    if !other.is_empty() {
        let _ = write!(message, "; \"{name}\" is a {}", other.join(", a "));
    }
    panic!("{message}");
}

/// Asserts that every declared `R` satisfies `matches`, described by
/// `what` (`"has a team tag"`). The failure lists each one that doesn't,
/// with its declaration.
///
/// ```
/// use keel::prelude::*;
/// use keel::testing::assert_all;
/// let mut stack = Stack::new("demo");
/// let vpc = stack.add("main", Vpc::new("10.0.0.0/16"));
/// stack.add("a", Subnet::new(vpc.id(), "10.0.0.0/24", "us-east-1a"));
/// assert_all::<Subnet>(&stack, "is a /24", |s| s.cidr_block.ends_with("/24"));
/// ```
#[track_caller]
pub fn assert_all<R: Resource + Debug>(stack: &Stack, what: &str, matches: impl Fn(&R) -> bool) {
    let all: Vec<Declaration<'_, R>> = stack.resources::<R>().collect();
    let failing: Vec<&Declaration<'_, R>> = all.iter().filter(|d| !matches(d)).collect();
    if failing.is_empty() {
        return;
    }
    let mut message = format!(
        "expected every {} to {what}: {} of {} don't",
        R::TYPE,
        failing.len(),
        all.len()
    );
    for d in failing {
        let _ = write!(message, "\n  {}: {:#?}", d.name(), d.resource());
    }
    panic!("{message}");
}

/// Asserts that at least one declared `R` satisfies `matches`, described
/// by `what`. The failure lists every `R` found (names and declarations).
///
/// ```
/// use keel::prelude::*;
/// use keel::testing::assert_any;
/// let mut stack = Stack::new("demo");
/// stack.add("main", Vpc::new("10.0.0.0/16"));
/// assert_any::<Vpc>(&stack, "has DNS support", |v| v.enable_dns_support);
/// ```
#[track_caller]
pub fn assert_any<R: Resource + Debug>(stack: &Stack, what: &str, matches: impl Fn(&R) -> bool) {
    let all: Vec<Declaration<'_, R>> = stack.resources::<R>().collect();
    if all.iter().any(|d| matches(d)) {
        return;
    }
    let mut message = format!("expected a {} that {what}; ", R::TYPE);
    if all.is_empty() {
        message.push_str("the stack declares none");
    } else {
        let _ = write!(message, "none of the {} found does:", all.len());
        for d in &all {
            let _ = write!(message, "\n  {}: {:#?}", d.name(), d.resource());
        }
    }
    panic!("{message}");
}

/// Asserts that the stack declares exactly `n` resources of type `R`; the
/// failure names the ones found.
///
/// ```
/// use keel::prelude::*;
/// use keel::testing::assert_count;
/// let mut stack = Stack::new("demo");
/// stack.add("main", Vpc::new("10.0.0.0/16"));
/// assert_count::<Vpc>(&stack, 1);
/// ```
#[track_caller]
pub fn assert_count<R: Resource>(stack: &Stack, n: usize) {
    let names: Vec<&str> = stack.resources::<R>().map(|d| d.name()).collect();
    assert!(
        names.len() == n,
        "expected {n} {}, found {}: {}",
        R::TYPE,
        names.len(),
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    );
}

/// Up to three of `names` closest to `name` (edit distance at most a third
/// of the longer name, or containing it), closest first.
pub(super) fn closest<'a>(names: impl Iterator<Item = &'a str>, name: &str) -> Vec<&'a str> {
    let mut scored: Vec<(usize, &str)> = names
        .filter_map(|n| {
            let d = strsim::levenshtein(n, name);
            let near = d * 3 <= n.len().max(name.len()) || n.contains(name) || name.contains(n);
            near.then_some((d, n))
        })
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, n)| n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;

    fn stack() -> Stack {
        let mut s = Stack::new("t");
        let vpc = s.add("main", Vpc::new("10.0.0.0/16"));
        s.add(
            "private-a",
            Subnet::new(vpc.id(), "10.0.1.0/24", "us-east-1a"),
        );
        s.add(
            "private-b",
            Subnet::new(vpc.id(), "10.0.2.0/24", "us-east-1b"),
        );
        s.add(
            "public-a",
            Subnet::new(vpc.id(), "10.0.0.0/24", "us-east-1a"),
        );
        s
    }

    fn panic_text(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
        let e = std::panic::catch_unwind(f).unwrap_err();
        e.downcast_ref::<String>().cloned().unwrap_or_default()
    }

    #[test]
    fn a_wrong_name_lists_the_closest_and_the_type_that_has_it() {
        let s = stack();
        let m = panic_text(|| {
            let _ = expect::<Subnet>(&stack(), "private-c");
        });
        assert_eq!(
            m,
            "no aws:ec2:Subnet named \"private-c\" in stack t; closest: private-a, private-b"
        );
        let m = panic_text(|| {
            let _ = expect::<Subnet>(&stack(), "main");
        });
        assert!(m.ends_with("\"main\" is a aws:ec2:Vpc"), "{m}");
        assert_eq!(expect::<Subnet>(&s, "public-a").cidr_block, "10.0.0.0/24");
    }

    #[test]
    fn assert_all_names_each_resource_that_fails() {
        let m = panic_text(|| {
            assert_all::<Subnet>(&stack(), "be in us-east-1a", |s| {
                s.availability_zone == "us-east-1a"
            })
        });
        assert!(
            m.starts_with("expected every aws:ec2:Subnet to be in us-east-1a: 1 of 3 don't\n  private-b: Subnet {"),
            "{m}"
        );
        assert!(m.contains("\"us-east-1b\""), "{m}");
    }

    #[test]
    fn assert_any_and_count_show_what_was_found() {
        let m =
            panic_text(|| assert_any::<Vpc>(&stack(), "is a /8", |v| v.cidr_block.ends_with("/8")));
        assert!(
            m.starts_with(
                "expected a aws:ec2:Vpc that is a /8; none of the 1 found does:\n  main: Vpc {"
            ),
            "{m}"
        );
        let m = panic_text(|| assert_count::<Subnet>(&stack(), 2));
        assert_eq!(
            m,
            "expected 2 aws:ec2:Subnet, found 3: private-a, private-b, public-a"
        );
    }
}
