//! Input files: EZKL's `{"input_data": [[...]]}` and our batch `{"inputs": [[...], ...]}`.

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::path::Path;

fn read_json(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

/// Flattens nested arrays of numbers into one vector (row-major).
fn flatten(v: &Value, out: &mut Vec<f32>, what: &str) -> Result<()> {
    match v {
        Value::Array(items) => items.iter().try_for_each(|i| flatten(i, out, what)),
        Value::Number(n) => {
            out.push(n.as_f64().context("number out of range")? as f32);
            Ok(())
        }
        Value::Null => bail!("{what} holds null (NaN or infinity are not valid inputs)"),
        other => bail!("{what} holds a non-number: {other}"),
    }
}

fn samples_of(list: &Value, what: &str) -> Result<Vec<Vec<f32>>> {
    let items = list
        .as_array()
        .with_context(|| format!("{what} must be a list of samples"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut v = Vec::new();
            flatten(s, &mut v, &format!("{what}[{i}]"))?;
            Ok(v)
        })
        .collect()
}

/// One sample from EZKL's input format (`input_data` holds one tensor per model input).
pub fn read_single(path: &Path) -> Result<Vec<f32>> {
    let json = read_json(path)?;
    let data = json.get("input_data").with_context(|| {
        format!(
            "{}: expected EZKL's format {{\"input_data\": [[...]]}}",
            path.display()
        )
    })?;
    let mut tensors = samples_of(data, "input_data")?;
    match tensors.len() {
        1 => Ok(tensors.swap_remove(0)),
        n => bail!(
            "{}: input_data holds {n} tensors but the model has one input",
            path.display()
        ),
    }
}

/// Several samples: `{"inputs": [...]}` (other keys ignored) or EZKL's `input_data` list.
pub fn read_batch(path: &Path) -> Result<Vec<Vec<f32>>> {
    let json = read_json(path)?;
    let (list, what) = match (json.get("inputs"), json.get("input_data")) {
        (Some(l), _) => (l, "inputs"),
        (None, Some(l)) => (l, "input_data"),
        _ => bail!(
            "{}: expected {{\"inputs\": [[...], ...]}} or {{\"input_data\": [[...]]}}",
            path.display()
        ),
    };
    let samples = samples_of(list, what).with_context(|| path.display().to_string())?;
    if samples.is_empty() {
        bail!("{}: no samples", path.display());
    }
    Ok(samples)
}
