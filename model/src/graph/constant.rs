//! Compile-time tensors: weights, initializers and folded shape arithmetic.

use crate::error::{ModelError, Result};
use serde::{Deserialize, Serialize};

/// Element storage of a constant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ConstData {
    F32(Vec<f32>),
    I64(Vec<i64>),
}

/// A constant tensor, row-major.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Const {
    pub shape: Vec<usize>,
    pub data: ConstData,
}

impl Const {
    pub fn f32(shape: Vec<usize>, data: Vec<f32>) -> Self {
        Self {
            shape,
            data: ConstData::F32(data),
        }
    }

    pub fn i64(shape: Vec<usize>, data: Vec<i64>) -> Self {
        Self {
            shape,
            data: ConstData::I64(data),
        }
    }

    pub fn numel(&self) -> usize {
        match &self.data {
            ConstData::F32(v) => v.len(),
            ConstData::I64(v) => v.len(),
        }
    }

    /// Values as f32 (integers converted).
    pub fn to_f32(&self) -> Vec<f32> {
        match &self.data {
            ConstData::F32(v) => v.clone(),
            ConstData::I64(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }

    /// Values as i64; floats must be integral (shape arithmetic).
    pub fn to_i64(&self, context: &str) -> Result<Vec<i64>> {
        match &self.data {
            ConstData::I64(v) => Ok(v.clone()),
            ConstData::F32(v) => v
                .iter()
                .map(|&x| {
                    if x.fract() == 0.0 && x.abs() < 9.0e15 {
                        Ok(x as i64)
                    } else {
                        Err(ModelError::invalid(
                            context,
                            format!("expected an integer tensor, found {x}"),
                        ))
                    }
                })
                .collect(),
        }
    }

    /// Rejects NaN and infinities, naming the tensor.
    pub fn check_finite(&self, name: &str) -> Result<()> {
        if let ConstData::F32(v) = &self.data
            && let Some((index, &value)) = v.iter().enumerate().find(|(_, x)| !x.is_finite())
        {
            return Err(ModelError::NonFiniteWeight {
                tensor: name.to_string(),
                index,
                value,
            });
        }
        Ok(())
    }

    pub fn with_shape(mut self, shape: Vec<usize>) -> Self {
        self.shape = shape;
        self
    }
}

/// A float weight tensor as stored in the IR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Weights {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Weights {
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Self { shape, data }
    }

    pub fn from_const(c: &Const) -> Self {
        Self::new(c.shape.clone(), c.to_f32())
    }

    pub fn max_abs(&self) -> f32 {
        self.data.iter().fold(0.0f32, |m, x| m.max(x.abs()))
    }
}
