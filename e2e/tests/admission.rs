//! The generated CRDs install into a fresh cluster, examples/ applies cleanly, and every
//! admission case of operator/tests/admission/cases.yaml gets the real API server's verdict:
//! accepted, or rejected with a message naming the field.

#[path = "../../operator/tests/admission/mod.rs"]
mod admission;

use meridian_e2e::meridian::{apply_examples, install_crds, kubectl};
use meridian_e2e::{ClusterOptions, Clusters};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_server_enforces_every_admission_rule() -> anyhow::Result<()> {
    let clusters = Clusters::start(1, ClusterOptions::default()).await?;
    let hub = clusters.hub();
    install_crds(hub)?;
    apply_examples(hub)?;
    kubectl(hub, &["get", "tenant", "acme"])?;
    kubectl(hub, &["get", "authregions", "eu-west", "us-east"])?;

    let mut failures = Vec::new();
    for case in admission::cases() {
        let mut object = case.object();
        // A fresh name per case, so accepted objects never collide; name cases keep theirs.
        if !case.name.contains("name-not-a-dns-label") {
            object["metadata"]["name"] = format!("case-{}", case.name)
                .chars()
                .take(63)
                .collect::<String>()
                .into();
        }
        let output = hub
            .kubectl()
            .args(["create", "--dry-run=server", "-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .expect("piped stdin")
                    .write_all(object.to_string().as_bytes())?;
                child.wait_with_output()
            })?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        let by = if case.schema {
            "the schema"
        } else {
            "a CEL rule"
        };
        match (&case.rejected, output.status.success()) {
            (None, true) => {}
            (None, false) => failures.push(format!("{}: rejected: {stderr}", case.name)),
            (Some(expected), true) => failures.push(format!(
                "{}: accepted, expected {by} to reject it with {expected:?}",
                case.name
            )),
            (Some(expected), false) if !stderr.contains(expected.as_str()) => {
                failures.push(format!(
                    "{}: expected {by} to say {expected:?}, got: {stderr}",
                    case.name
                ))
            }
            (Some(_), false) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Transition rule: an AuthRegion never moves to another namespace.
    let moved = hub
        .kubectl()
        .args([
            "patch",
            "authregion",
            "eu-west",
            "--type=merge",
            "-p",
            r#"{"spec":{"namespace":"elsewhere"}}"#,
        ])
        .output()?;
    let stderr = String::from_utf8_lossy(&moved.stderr);
    assert!(
        !moved.status.success() && stderr.contains("spec.namespace is immutable"),
        "{stderr}"
    );
    Ok(())
}
