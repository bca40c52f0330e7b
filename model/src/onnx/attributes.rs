//! Typed access to ONNX node attributes, with errors that name the node.

use super::proto::{NodeProto, attribute_proto::AttributeType};
use super::tensor::decode_tensor;
use crate::error::{ModelError, Result};
use crate::graph::constant::Const;

/// A node's attributes, looked up by name.
#[derive(Debug, Clone, Copy)]
pub struct Attributes<'a> {
    node: &'a NodeProto,
}

impl<'a> Attributes<'a> {
    pub fn of(node: &'a NodeProto) -> Self {
        Self { node }
    }

    fn find(&self, name: &str) -> Option<&'a super::proto::AttributeProto> {
        self.node.attribute.iter().find(|a| a.name() == name)
    }

    fn wrong_type(&self, name: &str, want: &str) -> ModelError {
        ModelError::invalid(
            node_label(self.node),
            format!("attribute '{name}' is not {want}"),
        )
    }

    pub fn has(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    pub fn int(&self, name: &str, default: i64) -> Result<i64> {
        match self.find(name) {
            None => Ok(default),
            Some(a) if a.r#type() == AttributeType::Int || a.i.is_some() => Ok(a.i()),
            Some(_) => Err(self.wrong_type(name, "an int")),
        }
    }

    pub fn float(&self, name: &str, default: f32) -> Result<f32> {
        match self.find(name) {
            None => Ok(default),
            Some(a) if a.r#type() == AttributeType::Float || a.f.is_some() => {
                let v = a.f();
                if v.is_finite() {
                    Ok(v)
                } else {
                    Err(ModelError::invalid(
                        node_label(self.node),
                        format!("attribute '{name}' is {v}"),
                    ))
                }
            }
            Some(_) => Err(self.wrong_type(name, "a float")),
        }
    }

    pub fn ints(&self, name: &str) -> Result<Option<Vec<i64>>> {
        match self.find(name) {
            None => Ok(None),
            Some(a) if a.r#type() == AttributeType::Ints || !a.ints.is_empty() => {
                Ok(Some(a.ints.clone()))
            }
            Some(_) => Err(self.wrong_type(name, "a list of ints")),
        }
    }

    /// A list of floats: `name`, or `name_as_tensor` (ONNX-ML's double-precision variant).
    pub fn floats(&self, name: &str) -> Result<Option<Vec<f64>>> {
        let values = match self.find(name) {
            Some(a) if a.r#type() == AttributeType::Floats || !a.floats.is_empty() => {
                a.floats.iter().map(|&f| f64::from(f)).collect::<Vec<f64>>()
            }
            Some(_) => return Err(self.wrong_type(name, "a list of floats")),
            None => match self.tensor(&format!("{name}_as_tensor"))? {
                Some(t) => t.to_f64(),
                None => return Ok(None),
            },
        };
        if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
            return Err(ModelError::invalid(
                node_label(self.node),
                format!("attribute '{name}' holds {bad}"),
            ));
        }
        Ok(Some(values))
    }

    pub fn string(&self, name: &str) -> Result<Option<String>> {
        match self.find(name) {
            None => Ok(None),
            Some(a) => match &a.s {
                Some(bytes) => Ok(Some(String::from_utf8_lossy(bytes).into_owned())),
                None => Err(self.wrong_type(name, "a string")),
            },
        }
    }

    pub fn strings(&self, name: &str) -> Result<Option<Vec<String>>> {
        match self.find(name) {
            None => Ok(None),
            Some(a) if a.r#type() == AttributeType::Strings || !a.strings.is_empty() => Ok(Some(
                a.strings
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect(),
            )),
            Some(_) => Err(self.wrong_type(name, "a list of strings")),
        }
    }

    pub fn tensor(&self, name: &str) -> Result<Option<Const>> {
        match self.find(name) {
            None => Ok(None),
            Some(a) => match &a.t {
                Some(t) => decode_tensor(t, &node_label(self.node)).map(Some),
                None => Err(self.wrong_type(name, "a tensor")),
            },
        }
    }

    /// Non-negative ints (sizes, strides), checked.
    pub fn usizes(&self, name: &str) -> Result<Option<Vec<usize>>> {
        self.ints(name)?
            .map(|v| {
                v.iter()
                    .map(|&x| usize::try_from(x))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|_| {
                        ModelError::invalid(
                            node_label(self.node),
                            format!("attribute '{name}' has a negative value"),
                        )
                    })
            })
            .transpose()
    }
}

/// How a node is named in messages: its name, or its op type and first output.
pub fn node_label(node: &NodeProto) -> String {
    if !node.name().is_empty() {
        node.name().to_string()
    } else {
        format!(
            "{}:{}",
            node.op_type(),
            node.output.first().map(String::as_str).unwrap_or("?")
        )
    }
}
