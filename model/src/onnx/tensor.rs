//! Decoding of ONNX `TensorProto`s (initializers, `Constant` values) into [`Const`]s.

use super::proto::{TensorProto, tensor_proto::DataType};
use crate::error::{ModelError, Result};
use crate::graph::check_shape;
use crate::graph::constant::{Const, ConstData};

/// Decodes a tensor, rejecting external data, unsupported element types and non-finite floats.
pub fn decode_tensor(t: &TensorProto, context: &str) -> Result<Const> {
    let name = if t.name().is_empty() {
        context
    } else {
        t.name()
    };
    let shape = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| ModelError::invalid(name, format!("negative dimension in {:?}", t.dims)))?;
    let numel = check_shape(name, &shape)?;
    if !t.external_data.is_empty()
        || t.data_location() == super::proto::tensor_proto::DataLocation::External
    {
        return Err(ModelError::unsupported_use(
            "initializer",
            name,
            "tensor data stored outside the .onnx file (external data); save the model with the weights inside",
        ));
    }
    let raw = t.raw_data.as_deref();
    let dt = DataType::try_from(t.data_type()).map_err(|_| {
        ModelError::invalid(name, format!("unknown tensor data type {}", t.data_type()))
    })?;
    let data = match dt {
        DataType::Float => ConstData::F32(match raw {
            Some(r) => le_chunks::<4>(r, numel, name)?
                .map(f32::from_le_bytes)
                .collect(),
            None => t.float_data.clone(),
        }),
        DataType::Double => ConstData::F64(match raw {
            Some(r) => le_chunks::<8>(r, numel, name)?
                .map(f64::from_le_bytes)
                .collect(),
            None => t.double_data.clone(),
        }),
        DataType::Int64 => ConstData::I64(match raw {
            Some(r) => le_chunks::<8>(r, numel, name)?
                .map(i64::from_le_bytes)
                .collect(),
            None => t.int64_data.clone(),
        }),
        DataType::Int32
        | DataType::Int16
        | DataType::Int8
        | DataType::Uint8
        | DataType::Uint16
        | DataType::Bool => ConstData::I64(match raw {
            Some(r) => decode_small_ints(dt, r, numel, name)?,
            None => t.int32_data.iter().map(|&v| i64::from(v)).collect(),
        }),
        other => {
            return Err(ModelError::unsupported_use(
                "tensor",
                name,
                format!(
                    "element type {} is not supported (use float32 weights)",
                    other.as_str_name()
                ),
            ));
        }
    };
    let c = Const { shape, data };
    if c.numel() != numel {
        return Err(ModelError::invalid(
            name,
            format!(
                "tensor of shape {:?} holds {} values, expected {numel}",
                c.shape,
                c.numel()
            ),
        ));
    }
    c.check_finite(name)?;
    Ok(c)
}

fn le_chunks<'a, const N: usize>(
    raw: &'a [u8],
    numel: usize,
    name: &str,
) -> Result<impl Iterator<Item = [u8; N]> + 'a> {
    if raw.len() != numel * N {
        return Err(ModelError::MalformedOnnx(format!(
            "tensor '{name}' has {} bytes of raw data, expected {} ({numel} values of {N} bytes): truncated file?",
            raw.len(),
            numel * N
        )));
    }
    Ok(raw.chunks_exact(N).map(|c| {
        let mut a = [0u8; N];
        a.copy_from_slice(c);
        a
    }))
}

fn decode_small_ints(dt: DataType, raw: &[u8], numel: usize, name: &str) -> Result<Vec<i64>> {
    Ok(match dt {
        DataType::Int32 => le_chunks::<4>(raw, numel, name)?
            .map(|b| i64::from(i32::from_le_bytes(b)))
            .collect(),
        DataType::Int16 => le_chunks::<2>(raw, numel, name)?
            .map(|b| i64::from(i16::from_le_bytes(b)))
            .collect(),
        DataType::Uint16 => le_chunks::<2>(raw, numel, name)?
            .map(|b| i64::from(u16::from_le_bytes(b)))
            .collect(),
        DataType::Int8 => le_chunks::<1>(raw, numel, name)?
            .map(|b| i64::from(b[0] as i8))
            .collect(),
        _ => le_chunks::<1>(raw, numel, name)?
            .map(|b| i64::from(b[0]))
            .collect(),
    })
}
