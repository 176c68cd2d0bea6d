//! Does what a region holds already say everything the desired object says?
//!
//! The API server adds defaults, status and metadata to everything it stores, so equality is
//! the wrong test; "every field the operator sets has the value it sets" is the right one, and
//! it is what keeps a converged region free of writes.

use serde_json::Value;

/// True when every field present in `desired` has the same value in `observed`. Objects may
/// have extra keys in `observed`; lists must have the same length, element by element.
pub fn covers(observed: &Value, desired: &Value) -> bool {
    match (desired, observed) {
        (Value::Object(want), Value::Object(have)) => {
            want.iter().all(|(key, value)| match have.get(key) {
                Some(found) => covers(found, value),
                None => value.is_null(),
            })
        }
        (Value::Array(want), Value::Array(have)) => {
            want.len() == have.len() && want.iter().zip(have).all(|(w, h)| covers(h, w))
        }
        (Value::Number(want), Value::Number(have)) => want.as_f64() == have.as_f64(),
        (want, have) => want == have,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn server_defaults_and_status_do_not_count_as_drift() {
        let desired = json!({"spec": {"replicas": 1, "template": {"containers": [{"name": "a"}]}}});
        let observed = json!({"spec": {"replicas": 1, "strategy": {}, "template": {"containers": [{"name": "a", "imagePullPolicy": "IfNotPresent"}]}}, "status": {"readyReplicas": 0}});
        assert!(covers(&observed, &desired));
    }

    #[test]
    fn a_changed_or_removed_field_is_drift() {
        let desired = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 1}});
        assert!(!covers(
            &json!({"metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 3}}),
            &desired
        ));
        assert!(!covers(
            &json!({"metadata": {"labels": {}}, "spec": {"replicas": 1}}),
            &desired
        ));
    }

    #[test]
    fn lists_must_match_in_length() {
        let desired = json!({"args": ["--a"]});
        assert!(!covers(&json!({"args": ["--a", "--b"]}), &desired));
        assert!(!covers(&json!({"args": []}), &desired));
    }
}
