//! The one error type of the model crate.

use thiserror::Error;

/// Everything that can go wrong while importing, quantizing or running a model.
///
/// Each variant names the problem and, where there is one, the ONNX node or
/// tensor it comes from, so a user can find it in their exported graph.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The bytes are not a valid ONNX protobuf (truncated, corrupt or not ONNX at all).
    #[error("malformed ONNX model: {0}")]
    MalformedOnnx(String),

    /// An operator cipherproof does not implement (yet).
    #[error("unsupported operator {op_type} (node '{node}'){more}")]
    UnsupportedOp {
        op_type: String,
        node: String,
        /// Other unsupported operator types in the same graph, pre-formatted.
        more: String,
    },

    /// A supported operator used with an attribute or input combination we do not handle.
    #[error("unsupported use of {op_type} (node '{node}'): {reason}")]
    UnsupportedAttribute {
        op_type: String,
        node: String,
        reason: String,
    },

    /// The graph structure is wrong: a missing input, a shape mismatch, a bad attribute value.
    #[error("invalid graph at node '{node}': {reason}")]
    InvalidGraph { node: String, reason: String },

    /// A dimension that is neither fixed in the model nor a leading batch dimension.
    #[error("cannot resolve dynamic shape of '{tensor}': dimension {dim} is '{param}'")]
    DynamicShape {
        tensor: String,
        dim: usize,
        param: String,
    },

    /// A weight (initializer or Constant) holds NaN or infinity.
    #[error("tensor '{tensor}' holds a non-finite value ({value}) at index {index}")]
    NonFiniteWeight {
        tensor: String,
        index: usize,
        value: f32,
    },

    /// An input sample holds NaN or infinity.
    #[error("input {sample} holds a non-finite value ({value}) at position {index}")]
    NonFiniteInput {
        sample: usize,
        index: usize,
        value: f32,
    },

    /// An input sample of the wrong length.
    #[error(
        "input {sample} has {got} values but the model input '{name}' of shape {shape:?} needs {expected}"
    )]
    InputLength {
        sample: usize,
        name: String,
        shape: Vec<usize>,
        expected: usize,
        got: usize,
    },

    /// No samples to calibrate on.
    #[error("calibration needs at least one input sample")]
    EmptyCalibration,

    /// A quantization setting out of its allowed range.
    #[error("invalid quantization config: {0}")]
    InvalidConfig(String),

    /// An input value outside the range the model was quantized for.
    #[error(
        "input {sample} position {index}: value {value} is outside the quantized input range ±{limit} \
         (recalibrate with inputs like this one)"
    )]
    InputOutOfRange {
        sample: usize,
        index: usize,
        value: f32,
        limit: f64,
    },

    /// An intermediate integer left the bit-width the circuits range-check.
    #[error(
        "value {value} at node '{node}' overflows its {bits}-bit range (scale 2^{scale}); \
         the input is outside the calibrated range: recalibrate with inputs like it"
    )]
    Overflow {
        node: String,
        value: i64,
        bits: u32,
        scale: i32,
    },

    /// The float reference executor (candle) failed.
    #[error("reference execution failed at node '{node}': {source}")]
    Execution {
        node: String,
        #[source]
        source: candle_core::Error,
    },

    /// An internal invariant that the integer executor relies on was broken.
    #[error("integer execution at node '{node}': {reason}")]
    IntegerExecution { node: String, reason: String },
}

/// Result alias of the model crate.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;

impl ModelError {
    pub(crate) fn invalid(node: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidGraph {
            node: node.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn unsupported_use(
        op_type: impl Into<String>,
        node: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self::UnsupportedAttribute {
            op_type: op_type.into(),
            node: node.into(),
            reason: reason.into(),
        }
    }
}
