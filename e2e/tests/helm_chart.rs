//! The charts without a cluster: the built helm lints and renders them with defaults and with
//! every option on, the values schema rejects wrong types, the chart's CRDs are the generated
//! ones, the defaults are secure and name the images the Containerfiles build. (Every value is
//! documented: helm_values_docs.rs.)

mod chart;

use std::collections::BTreeMap;

use chart::{documents, fail, offline_helm, operator_chart, path_str, region_chart, succeed};
use meridian_e2e::meridian::repo_root;
use serde_json::{Value, json};

fn all_options() -> String {
    path_str(&operator_chart().join("ci/all-options-values.yaml")).to_owned()
}

/// Values that turn every option of the region chart on or away from its default.
const REGION_ALL_OPTIONS: &[&str] = &[
    "--set",
    "namespace=auth-eu",
    "--set",
    "createNamespace=false",
    "--set",
    "serviceAccount.name=hub-operator",
    "--set",
    "serviceAccount.annotations.owner=platform",
];

#[test]
fn both_charts_lint_and_render_with_defaults_and_with_every_option() -> anyhow::Result<()> {
    let home = tempfile::tempdir()?;
    let operator = path_str(&operator_chart()).to_owned();
    let region = path_str(&region_chart()).to_owned();
    let all_options = all_options();
    let cases: [(&str, Vec<&str>); 4] = [
        (&operator, vec![]),
        (&operator, vec!["-f", &all_options]),
        (&region, vec![]),
        (&region, REGION_ALL_OPTIONS.to_vec()),
    ];
    for (chart, values) in cases {
        let mut lint = offline_helm(home.path())?;
        lint.args(["lint", "--strict", chart]).args(&values);
        succeed(lint)?;
        let mut template = offline_helm(home.path())?;
        template
            .args([
                "template",
                "meridian",
                chart,
                "--namespace",
                "meridian-system",
            ])
            .args(&values);
        let rendered = documents(&succeed(template)?)?;
        assert!(!rendered.is_empty(), "{chart} {values:?} rendered nothing");
    }
    Ok(())
}

#[test]
fn every_option_renders_its_objects() -> anyhow::Result<()> {
    let home = tempfile::tempdir()?;
    let mut template = offline_helm(home.path())?;
    template.args(["template", "m", path_str(&operator_chart())]);
    template.args(["--namespace", "meridian-system", "-f", &all_options()]);
    let kinds: Vec<String> = documents(&succeed(template)?)?
        .iter()
        .map(|o| chart::object_id(o).0)
        .collect();
    for kind in [
        "CustomResourceDefinition",
        "ServiceAccount",
        "ClusterRole",
        "Role",
        "Deployment",
        "Service",
        "ServiceMonitor",
        "NetworkPolicy",
        "Namespace",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} in {kinds:?}");
    }
    Ok(())
}

fn render_defaults(extra: &[&str]) -> anyhow::Result<Vec<Value>> {
    let home = tempfile::tempdir()?;
    let mut template = offline_helm(home.path())?;
    template.args(["template", "meridian", path_str(&operator_chart())]);
    template
        .args(["--namespace", "meridian-system"])
        .args(extra);
    documents(&succeed(template)?)
}

fn env(container: &Value, name: &str) -> Option<String> {
    container["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)
        .and_then(|e| e["value"].as_str().map(str::to_owned))
}

#[test]
fn defaults_are_secure_and_name_the_released_images() -> anyhow::Result<()> {
    let rendered = render_defaults(&[])?;
    let deployment = rendered
        .iter()
        .find(|o| o["kind"] == "Deployment")
        .expect("a Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(deployment["spec"]["replicas"], 1);
    // A standby is never ready (/readyz waits for the Lease), so a rolling update would stall.
    assert_eq!(deployment["spec"]["strategy"]["type"], "Recreate");
    assert_eq!(
        container["image"],
        format!(
            "ghcr.io/meridian-dev/meridian-operator:{}",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert_eq!(
        meridian_operator::api::AuthServerSpec::DEFAULT_IMAGE,
        format!(
            "ghcr.io/meridian-dev/meridian-auth-server:{}",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(security["seccompProfile"]["type"], "RuntimeDefault");
    assert!(container["resources"]["requests"]["memory"].is_string());
    assert!(container["resources"]["limits"]["memory"].is_string());
    assert_eq!(container["ports"][0]["name"], "admin");
    assert_eq!(container["ports"][0]["containerPort"], 8080);
    assert_eq!(
        env(container, "MERIDIAN_ADMIN_ADDR").as_deref(),
        Some("0.0.0.0:8080")
    );
    assert_eq!(
        container["livenessProbe"]["httpGet"],
        json!({"path": "/healthz", "port": "admin"})
    );
    assert_eq!(
        container["readinessProbe"]["httpGet"],
        json!({"path": "/readyz", "port": "admin"})
    );
    assert_eq!(
        env(container, "MERIDIAN_LEADER_ELECT").as_deref(),
        Some("true")
    );
    // The key schedule's propagation is the operator's own default, for the kubelet's default
    // syncFrequency.
    assert_eq!(
        env(container, "MERIDIAN_PROPAGATION").as_deref(),
        Some("90s")
    );
    assert_eq!(
        meridian_operator::settings::Settings::default().propagation,
        std::time::Duration::from_secs(90)
    );

    // The Containerfiles build exactly the images the chart and AuthRegion name.
    let build = std::fs::read_to_string(repo_root().join("containers/build.sh"))?;
    assert!(build.contains("ghcr.io/meridian-dev"));
    for binary in ["operator", "auth-server"] {
        let file = repo_root().join(format!("containers/{binary}.Containerfile"));
        let text = std::fs::read_to_string(&file)?;
        assert!(text.contains(&format!("ghcr.io/meridian-dev/meridian-{binary}")));
        assert!(
            text.contains("USER 65532:65532"),
            "{} runs as root",
            file.display()
        );
    }
    Ok(())
}

#[test]
fn more_than_one_replica_needs_leader_election() -> anyhow::Result<()> {
    let rendered = render_defaults(&[
        "--set",
        "replicaCount=3",
        "--set",
        "leaderElection.enabled=true",
    ])?;
    let deployment = rendered.iter().find(|o| o["kind"] == "Deployment").unwrap();
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        env(container, "MERIDIAN_LEADER_ELECT").as_deref(),
        Some("true")
    );

    let home = tempfile::tempdir()?;
    let mut template = offline_helm(home.path())?;
    template.args(["template", "meridian", path_str(&operator_chart())]);
    template.args([
        "--set",
        "replicaCount=2",
        "--set",
        "leaderElection.enabled=false",
    ]);
    let stderr = fail(template)?;
    assert!(
        stderr.contains("replicaCount > 1 needs leaderElection.enabled=true"),
        "{stderr}"
    );
    Ok(())
}

#[test]
fn values_schema_rejects_a_wrong_type_with_a_clear_message() -> anyhow::Result<()> {
    let home = tempfile::tempdir()?;
    let cases = [
        (
            "replicaCount=two",
            "at '/replicaCount': got string, want integer",
        ),
        (
            "crds.keep=maybe",
            "at '/crds/keep': got string, want boolean",
        ),
        (
            "operator.adminPort=http",
            "at '/operator/adminPort': got string, want integer",
        ),
    ];
    for (value, message) in cases {
        let mut template = offline_helm(home.path())?;
        template.args(["template", "meridian", path_str(&operator_chart())]);
        template.args(["--set-string", value]);
        let stderr = fail(template)?;
        assert!(
            stderr.contains("values don't meet the specifications of the schema"),
            "{stderr}"
        );
        assert!(stderr.contains(message), "{value}: {stderr}");
    }
    let mut region = offline_helm(home.path())?;
    region.args(["template", "r", path_str(&region_chart())]);
    region.args(["--set-string", "createNamespace=yes"]);
    let stderr = fail(region)?;
    assert!(
        stderr.contains("at '/createNamespace': got string, want boolean"),
        "{stderr}"
    );
    Ok(())
}

#[test]
fn chart_crds_are_the_generated_crds_with_a_keep_policy() -> anyhow::Result<()> {
    let generated = repo_root().join("crds");
    let copied = operator_chart().join("files/crds");
    let names = |dir: &std::path::Path| -> anyhow::Result<Vec<String>> {
        let mut names: Vec<String> = std::fs::read_dir(dir)?
            .map(|e| Ok(e?.file_name().to_string_lossy().into_owned()))
            .collect::<anyhow::Result<_>>()?;
        names.sort();
        Ok(names)
    };
    assert_eq!(
        names(&generated)?,
        names(&copied)?,
        "charts/meridian/files/crds/ must hold exactly crds/: cp crds/*.yaml charts/meridian/files/crds/"
    );
    let mut expected = BTreeMap::new();
    for name in names(&generated)? {
        let source = std::fs::read_to_string(generated.join(&name))?;
        let copy = std::fs::read_to_string(copied.join(&name))?;
        assert!(
            source == copy,
            "charts/meridian/files/crds/{name} differs from crds/{name}: cp crds/*.yaml charts/meridian/files/crds/"
        );
        let crd: Value = serde_yaml::from_str(&source)?;
        expected.insert(chart::object_id(&crd).2, crd);
    }

    let rendered = render_defaults(&["--show-only", "templates/crds.yaml"])?;
    assert_eq!(rendered.len(), expected.len());
    for mut crd in rendered {
        let name = chart::object_id(&crd).2;
        let metadata = crd["metadata"].as_object_mut().expect("metadata");
        let annotations = metadata.remove("annotations").unwrap_or_default();
        assert_eq!(annotations["helm.sh/resource-policy"], "keep", "{name}");
        metadata.remove("labels");
        let generated = expected.get(&name).expect("a generated CRD of that name");
        let difference = first_difference(
            &numbers_as_floats(crd),
            &numbers_as_floats(generated.clone()),
            "",
        );
        assert_eq!(difference, None, "{name} renders differently from crds/");
    }

    let without = render_defaults(&[
        "--set",
        "crds.keep=false",
        "--show-only",
        "templates/crds.yaml",
    ])?;
    assert!(without.iter().all(|crd| {
        crd["metadata"]["annotations"]
            .get("helm.sh/resource-policy")
            .is_none()
    }));
    let home = tempfile::tempdir()?;
    let mut off = offline_helm(home.path())?;
    off.args([
        "template",
        "meridian",
        path_str(&operator_chart()),
        "--set",
        "crds.enabled=false",
    ]);
    let kinds: Vec<_> = documents(&succeed(off)?)?
        .iter()
        .map(|o| chart::object_id(o).0)
        .collect();
    assert!(!kinds.iter().any(|k| k == "CustomResourceDefinition"));
    Ok(())
}

#[test]
fn both_charts_grant_a_region_the_same_rules() -> anyhow::Result<()> {
    let shared = "templates/_region_rbac.tpl";
    let region = std::fs::read_to_string(region_chart().join(shared))?;
    let operator = std::fs::read_to_string(operator_chart().join(shared))?;
    assert!(
        region == operator,
        "charts/meridian/{shared} must be a copy of charts/meridian-region/{shared}"
    );
    Ok(())
}

/// helm's YAML round trip writes `100.0` as `100`: the same JSON number to the API server.
fn numbers_as_floats(value: Value) -> Value {
    match value {
        Value::Number(n) => json!(n.as_f64()),
        Value::Array(items) => Value::Array(items.into_iter().map(numbers_as_floats).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, numbers_as_floats(v)))
                .collect(),
        ),
        other => other,
    }
}

/// The JSON pointer of the first place where `a` and `b` differ, for a readable failure.
fn first_difference(a: &Value, b: &Value, at: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.keys()
                .chain(y.keys())
                .find_map(|k| match (x.get(k), y.get(k)) {
                    (Some(v), Some(w)) => first_difference(v, w, &format!("{at}/{k}")),
                    _ => Some(format!("{at}/{k} is on one side only")),
                })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (v, w))| first_difference(v, w, &format!("{at}/{i}"))),
        _ => (a != b).then(|| format!("{at}: {a} != {b}")),
    }
}
