//! Calibration: the largest magnitude each tensor takes in the float model over a set of samples.

use crate::error::{ModelError, Result};
use crate::exec::float::FloatRunner;
use crate::graph::Graph;

/// Max |x| of every value of `graph` over `samples` (indexed by value id).
pub fn value_ranges(graph: &Graph, samples: &[Vec<f32>]) -> Result<Vec<f32>> {
    if samples.is_empty() {
        return Err(ModelError::EmptyCalibration);
    }
    let runner = FloatRunner::new(graph)?;
    let mut maxes = vec![0f32; graph.values.len()];
    for (i, sample) in samples.iter().enumerate() {
        crate::exec::validate_input(graph.input(), i, sample)?;
        for (m, data) in maxes.iter_mut().zip(runner.run_all(sample)?) {
            *m = data.iter().fold(*m, |acc, x| acc.max(x.abs()));
        }
    }
    Ok(maxes)
}
