//! Setting a condition without churning: the transition time moves only when the status
//! changes, and callers can tell whether anything but the clock changed (no write otherwise).
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::{Condition, ConditionStatus};

/// Puts `new` into `list` (keyed by type). Returns whether the list changed in anything but
/// timestamps.
pub fn set(list: &mut Vec<Condition>, mut new: Condition, now: Time) -> bool {
    match list.iter_mut().find(|c| c.r#type == new.r#type) {
        Some(old) if old.eq_ignoring_time(&new) => false,
        Some(old) => {
            new.last_transition_time = if old.status == new.status {
                old.last_transition_time.clone()
            } else {
                Some(now)
            };
            *old = new;
            true
        }
        None => {
            new.last_transition_time = Some(now);
            list.push(new);
            true
        }
    }
}

/// Removes the condition of `type`; returns whether there was one.
pub fn remove(list: &mut Vec<Condition>, r#type: &str) -> bool {
    let before = list.len();
    list.retain(|c| c.r#type != r#type);
    before != list.len()
}

/// A condition with the fields every caller sets.
pub fn new(
    r#type: &str,
    status: bool,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
) -> Condition {
    Condition {
        r#type: r#type.to_string(),
        status: if status {
            ConditionStatus::True
        } else {
            ConditionStatus::False
        },
        last_transition_time: None,
        reason: Some(reason.to_string()),
        message: Some(message.into()),
        observed_generation: generation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(s).unwrap())
    }

    #[test]
    fn same_condition_is_no_change_and_keeps_time() {
        let mut l = vec![];
        assert!(set(
            &mut l,
            new("Ready", true, "Ready", "ok", Some(1)),
            t(10)
        ));
        assert!(!set(
            &mut l,
            new("Ready", true, "Ready", "ok", Some(1)),
            t(20)
        ));
        assert_eq!(l[0].last_transition_time, Some(t(10)));
        // A new message with the same status keeps the transition time.
        assert!(set(
            &mut l,
            new("Ready", true, "Ready", "still ok", Some(1)),
            t(30)
        ));
        assert_eq!(l[0].last_transition_time, Some(t(10)));
        assert!(set(
            &mut l,
            new("Ready", false, "Failed", "no", Some(1)),
            t(40)
        ));
        assert_eq!(l[0].last_transition_time, Some(t(40)));
        assert!(remove(&mut l, "Ready"));
        assert!(l.is_empty());
    }
}
