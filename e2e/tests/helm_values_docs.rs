//! Every value of both charts is documented, with its default, in the chart's README table;
//! a value added, removed or changed on one side only fails here.

mod chart;

use std::collections::BTreeMap;

use chart::{operator_chart, region_chart};
use serde_json::Value;

/// Leaves of values.yaml as dotted keys: scalars, lists and empty maps.
fn leaves(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, value) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                leaves(&path, value, out);
            }
        }
        _ => {
            out.insert(prefix.to_owned(), value.clone());
        }
    }
}

fn lookup<'a>(values: &'a Value, key: &str) -> Option<&'a Value> {
    key.split('.')
        .try_fold(values, |value, part| value.get(part))
}

/// The README's table rows: `| `key` | type | `default` | description |`.
fn documented(readme: &str) -> anyhow::Result<BTreeMap<String, Value>> {
    let mut rows = BTreeMap::new();
    for line in readme.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        anyhow::ensure!(cells.len() == 4, "a value row has 4 cells: {line}");
        let key = cells[0].trim_matches('`').to_owned();
        let default: Value = serde_yaml::from_str(cells[2].trim_matches('`'))
            .map_err(|e| anyhow::anyhow!("default of {key} is not YAML: {e}"))?;
        anyhow::ensure!(
            rows.insert(key.clone(), default).is_none(),
            "{key} documented twice"
        );
    }
    Ok(rows)
}

fn assert_documented(chart: &std::path::Path) -> anyhow::Result<()> {
    let values: Value = serde_yaml::from_str(&std::fs::read_to_string(chart.join("values.yaml"))?)?;
    let rows = documented(&std::fs::read_to_string(chart.join("README.md"))?)?;
    let name = chart.display();
    for (key, default) in &rows {
        let actual = lookup(&values, key);
        assert!(
            actual.is_some(),
            "{name}/README.md documents `{key}`, which values.yaml lacks"
        );
        assert_eq!(
            actual,
            Some(default),
            "{name}/README.md gives `{key}` another default"
        );
    }
    let mut all = BTreeMap::new();
    leaves("", &values, &mut all);
    for key in all.keys() {
        let covered = rows
            .keys()
            .any(|row| key == row || key.starts_with(&format!("{row}.")));
        assert!(
            covered,
            "{name}/values.yaml has `{key}`, which README.md does not document"
        );
    }
    Ok(())
}

#[test]
fn every_value_is_documented_with_its_default() -> anyhow::Result<()> {
    assert_documented(&operator_chart())?;
    assert_documented(&region_chart())
}
