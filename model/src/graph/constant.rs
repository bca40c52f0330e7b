//! Compile-time tensors: weights, initializers and folded shape arithmetic.

use crate::error::{ModelError, Result};
use serde::{Deserialize, Serialize};

/// Element storage of a constant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ConstData {
    F32(Vec<f32>),
    /// Doubles keep their precision: a comparison threshold may sit between two f32s.
    F64(Vec<f64>),
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
            ConstData::F64(v) => v.len(),
            ConstData::I64(v) => v.len(),
        }
    }

    /// Values as f32 (integers converted).
    pub fn to_f32(&self) -> Vec<f32> {
        match &self.data {
            ConstData::F32(v) => v.clone(),
            ConstData::F64(v) => v.iter().map(|&x| x as f32).collect(),
            ConstData::I64(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }

    /// Values as f64 (exact for every stored type).
    pub fn to_f64(&self) -> Vec<f64> {
        match &self.data {
            ConstData::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            ConstData::F64(v) => v.clone(),
            ConstData::I64(v) => v.iter().map(|&x| x as f64).collect(),
        }
    }

    /// Values as i64; floats must be integral (shape arithmetic).
    pub fn to_i64(&self, context: &str) -> Result<Vec<i64>> {
        match &self.data {
            ConstData::I64(v) => Ok(v.clone()),
            ConstData::F32(_) | ConstData::F64(_) => self
                .to_f64()
                .into_iter()
                .map(|x| {
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

    /// Rejects NaN and infinities (and doubles beyond f32's range, which every
    /// use as a weight would turn into infinities), naming the tensor.
    pub fn check_finite(&self, name: &str) -> Result<()> {
        let bad = match &self.data {
            ConstData::F32(v) => v.iter().position(|x| !x.is_finite()),
            ConstData::F64(v) => v.iter().position(|&x| !(x as f32).is_finite()),
            ConstData::I64(_) => None,
        };
        match bad {
            Some(index) => Err(ModelError::NonFiniteWeight {
                tensor: name.to_string(),
                index,
                value: self.to_f32()[index],
            }),
            None => Ok(()),
        }
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
