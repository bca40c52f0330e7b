//! Reference executors: [`float`] (candle-core, f32) and [`integer`] (the exact
//! quantized semantics), plus input validation and output helpers shared by both.

pub mod float;
pub mod integer;
pub mod window;

use crate::error::{ModelError, Result};
use crate::graph::ValueInfo;

/// Checks a flat input sample: right length for `input`, every value finite.
pub fn validate_input(input: &ValueInfo, sample: usize, data: &[f32]) -> Result<()> {
    if data.len() != input.numel() {
        return Err(ModelError::InputLength {
            sample,
            name: input.name.clone(),
            shape: input.shape.clone(),
            expected: input.numel(),
            got: data.len(),
        });
    }
    if let Some((index, &value)) = data.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        return Err(ModelError::NonFiniteInput {
            sample,
            index,
            value,
        });
    }
    Ok(())
}

/// Index of the largest element (the first one on ties), `None` for an empty slice.
pub fn argmax<T: PartialOrd + Copy>(values: &[T]) -> Option<usize> {
    let mut best: Option<(usize, T)> = None;
    for (i, &v) in values.iter().enumerate() {
        if best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_first_of_ties() {
        assert_eq!(argmax(&[1, 3, 3, 2]), Some(1));
        assert_eq!(argmax::<f32>(&[]), None);
    }

    #[test]
    fn validate_input_names_length_and_non_finite() {
        let info = ValueInfo {
            name: "x".into(),
            shape: vec![1, 2],
        };
        assert!(matches!(
            validate_input(&info, 0, &[1.0]),
            Err(ModelError::InputLength {
                expected: 2,
                got: 1,
                ..
            })
        ));
        assert!(matches!(
            validate_input(&info, 3, &[1.0, f32::NAN]),
            Err(ModelError::NonFiniteInput {
                sample: 3,
                index: 1,
                ..
            })
        ));
        assert!(validate_input(&info, 0, &[1.0, 2.0]).is_ok());
    }
}
