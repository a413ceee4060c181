//! Resource definitions for the AWS services keel manages. Each type is
//! declared once here: its props (the struct, serialized for state and
//! diffs), builder methods, replacement rules, field checks, its outputs and
//! the typed accessors on its [`crate::Handle`]. Providers give the types
//! behaviour; this module holds none.

pub mod autoscaling;
pub mod ec2;
pub mod ecs;
pub mod ecs_task;
pub mod elb;
pub mod iam;

/// Checks that an optional physical name fits AWS's usual rule for names.
pub(crate) fn check_name(name: &Option<String>, max: usize, errors: &mut Vec<crate::FieldError>) {
    if let Some(n) = name {
        if n.is_empty() || n.len() > max {
            errors.push(crate::FieldError::new(
                "name",
                format!("must be 1 to {max} characters"),
            ));
        } else if !n
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.+=,@".contains(c))
        {
            errors.push(crate::FieldError::new(
                "name",
                format!("`{n}` may contain only letters, digits and -_.+=,@"),
            ));
        }
    }
}
