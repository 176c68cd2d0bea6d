//! `meridian-operator`: wires the operator together.
//!
//! `meridian-operator crd` prints the CRDs; `crd --out-dir DIR` writes one file per CRD.

use anyhow::{Context, bail};

const USAGE: &str = "usage: meridian-operator crd [--out-dir DIR]";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["crd"] => print!(
            "{}",
            meridian_operator::api::crds_yaml().context("rendering the CRDs")?
        ),
        ["crd", "--out-dir", dir] => {
            for (name, yaml) in meridian_operator::api::crd_files().context("rendering the CRDs")? {
                let path = std::path::Path::new(dir).join(name);
                std::fs::write(&path, yaml)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
        _ => bail!(USAGE),
    }
    Ok(())
}
