//! Fixed-point quantization: a power-of-two scale per tensor, chosen by
//! calibration on sample inputs so that no intermediate leaves the bit-width
//! the circuits range-check, with a rescale after every multiply.
//!
//! [`quantize`] turns a float [`Graph`](crate::graph::Graph) into a
//! [`QuantModel`]; [`report::build_report`] says how faithful it is.

pub mod bounds;
pub mod calibrate;
mod checks;
mod exact;
pub mod fixed;
mod lower;
pub mod model;
pub mod report;

pub use checks::check_selection_ops;
pub use lower::{quantize, quantize_for_range};
pub use model::{LutFunction, QNode, QOp, QValue, QuantConfig, QuantModel};
