//! Every admission rule, evaluated client-side with kube's CEL interpreter on the same cases
//! that e2e/tests/admission.rs sends to a real kube-apiserver.

#[path = "admission/mod.rs"]
mod admission;

use meridian_operator::api::{AuthRegion, Tenant};
use serde_json::Value;

fn cel_errors(kind: &str, object: Value) -> Vec<String> {
    let result = match kind {
        "Tenant" => {
            let tenant: Tenant =
                serde_json::from_value(object).expect("case deserializes as a Tenant");
            tenant.validate_cel()
        }
        "AuthRegion" => {
            let region: AuthRegion =
                serde_json::from_value(object).expect("case deserializes as an AuthRegion");
            region.validate_cel()
        }
        other => panic!("no CRD of kind {other}"),
    };
    match result {
        Ok(()) => Vec::new(),
        Err(errors) => errors
            .into_iter()
            .map(|error| format!("{}: {}", error.field_path, error.message))
            .collect(),
    }
}

#[test]
fn every_case_is_accepted_or_rejected_with_its_message() {
    let cases = admission::cases();
    assert!(cases.len() >= 40, "cases.yaml lost cases: {}", cases.len());
    let mut failures = Vec::new();
    // A schema rejection is the API server's to make: e2e/tests/admission.rs proves it.
    for case in cases.iter().filter(|case| !case.schema) {
        let errors = cel_errors(&case.kind, case.object());
        match &case.rejected {
            None if !errors.is_empty() => {
                failures.push(format!("{}: rejected: {errors:?}", case.name))
            }
            Some(expected) if !errors.iter().any(|e| e.contains(expected.as_str())) => failures
                .push(format!(
                    "{}: expected {expected:?}, got {errors:?}",
                    case.name
                )),
            _ => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_rule_has_a_passing_and_a_failing_case() {
    let cases = admission::cases();
    for kind in ["Tenant", "AuthRegion"] {
        assert!(
            cases.iter().any(|c| c.kind == kind && c.rejected.is_none()),
            "{kind}: no valid case"
        );
        assert!(
            cases.iter().any(|c| c.kind == kind && c.rejected.is_some()),
            "{kind}: no invalid case"
        );
    }
}

#[test]
fn examples_pass_every_rule() {
    for object in admission::examples() {
        let kind = object["kind"].as_str().unwrap_or_default().to_string();
        if kind == "Tenant" || kind == "AuthRegion" {
            let errors = cel_errors(&kind, object.clone());
            assert!(
                errors.is_empty(),
                "{} {}: {errors:?}",
                kind,
                object["metadata"]["name"]
            );
        }
    }
}

#[test]
fn an_auth_regions_namespace_cannot_change() {
    let region: AuthRegion = serde_json::from_value(admission::example("AuthRegion")).unwrap();
    let mut moved = region.clone();
    moved.spec.namespace = "elsewhere".into();
    let errors = moved
        .validate_cel_update(&region)
        .expect_err("namespace change refused");
    assert!(
        errors
            .into_iter()
            .any(|e| e.message.contains("spec.namespace is immutable"))
    );
    assert!(region.validate_cel_update(&region).is_ok());
}

/// The admission rule is generated from the contract's list, so every claim the auth-server
/// refuses is refused at admission too (the `typ` claim once slipped through a hand-kept copy).
#[test]
fn every_claim_the_contract_reserves_is_refused_at_admission() {
    let cases = admission::cases();
    let base = cases
        .iter()
        .find(|c| c.name == "unregistered-claim")
        .expect("cases.yaml has unregistered-claim")
        .object();
    assert!(cel_errors("Tenant", base.clone()).is_empty());
    for claim in meridian_contract::RESERVED_CLAIMS {
        let mut object = base.clone();
        object["spec"]["claims"] = serde_json::json!({ *claim: "x" });
        let errors = cel_errors("Tenant", object);
        assert!(
            errors
                .iter()
                .any(|e| e.contains("must not set a registered claim")),
            "{claim}: {errors:?}"
        );
    }
}
