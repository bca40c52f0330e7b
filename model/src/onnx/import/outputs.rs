//! The graph's output: the one ONNX output, or the one the user names among
//! several ([`ImportOptions::output`]); then only the nodes it needs are kept,
//! and a Softmax read only by ArgMax is dropped (an argmax of probabilities is
//! the argmax of their logits), so a classifier exported with both its labels
//! and its probabilities proves its labels alone.

use crate::error::{ModelError, Result};
use crate::graph::{Graph, Node, Op, ValueId};

/// Choices the importer cannot make alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Which graph output the model computes and proves, for models with several
    /// (`None`: the model must have exactly one).
    pub output: Option<String>,
}

/// Picks the output value among the ONNX outputs `names` (resolved by `value_of`).
pub(super) fn choose(
    names: &[&str],
    value_of: impl Fn(&str) -> Result<ValueId>,
    opts: &ImportOptions,
) -> Result<ValueId> {
    let name = match (&opts.output, names) {
        (Some(wanted), _) => {
            if !names.contains(&wanted.as_str()) {
                return Err(ModelError::invalid(
                    "graph",
                    format!("no output named '{wanted}' (outputs: {})", names.join(", ")),
                ));
            }
            wanted.as_str()
        }
        (None, [one]) => one,
        (None, []) => return Err(ModelError::invalid("graph", "the model has no output")),
        (None, many) => {
            return Err(ModelError::unsupported_use(
                "graph",
                "outputs",
                format!(
                    "{} outputs; cipherproof proves one: pick it with --output ({})",
                    many.len(),
                    many.join(", ")
                ),
            ));
        }
    };
    value_of(name)
}

/// Drops every Softmax whose readers are all ArgMax nodes, then every node the output
/// does not need, renumbering values so that node `i` still outputs value `i + 1`.
pub(super) fn prune(graph: Graph) -> Graph {
    let graph = drop_softmax_before_argmax(graph);
    let mut needed = vec![false; graph.values.len()];
    needed[graph.output] = true;
    for node in graph.nodes.iter().rev() {
        if needed[node.output] {
            node.inputs.iter().for_each(|&v| needed[v] = true);
        }
    }
    needed[Graph::INPUT] = true;
    let mut id = vec![usize::MAX; graph.values.len()];
    let mut values = vec![graph.values[Graph::INPUT].clone()];
    id[Graph::INPUT] = Graph::INPUT;
    let mut nodes = Vec::new();
    for node in graph.nodes {
        if !needed[node.output] {
            continue;
        }
        id[node.output] = values.len();
        values.push(graph.values[node.output].clone());
        nodes.push(Node {
            inputs: node.inputs.iter().map(|&v| id[v]).collect(),
            output: id[node.output],
            ..node
        });
    }
    Graph {
        output: id[graph.output],
        values,
        nodes,
        ..graph
    }
}

/// Rewires the readers of a Softmax that only ArgMax nodes read to its input (the
/// Softmax itself becomes dead, unless it is the output).
fn drop_softmax_before_argmax(mut graph: Graph) -> Graph {
    let softmaxes: Vec<(ValueId, ValueId)> = graph
        .nodes
        .iter()
        .filter(|n| matches!(n.op, Op::Softmax) && n.output != graph.output)
        .map(|n| (n.output, n.inputs[0]))
        .collect();
    for (out, input) in softmaxes {
        let readers = graph.nodes.iter().filter(|n| n.inputs.contains(&out));
        if readers.clone().all(|n| matches!(n.op, Op::ArgMax)) {
            for n in graph.nodes.iter_mut().filter(|n| n.inputs.contains(&out)) {
                n.inputs
                    .iter_mut()
                    .filter(|v| **v == out)
                    .for_each(|v| *v = input);
            }
        }
    }
    graph
}
