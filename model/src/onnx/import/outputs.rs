//! The graph's output: the one ONNX output, or those the user names among
//! several ([`ImportOptions::output`]: one name, or several separated by commas,
//! which become one flat output, each flattened and concatenated in the order
//! named); then only the nodes it needs are kept, and a Softmax read only by
//! ArgMax is dropped (an argmax of probabilities is the argmax of their logits),
//! so a classifier exported with both its labels and its probabilities proves its
//! labels alone.

use super::Builder;
use crate::error::{ModelError, Result};
use crate::graph::{Graph, Node, Op, ValueId};

/// Choices the importer cannot make alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Which graph output the model computes and proves, for models with several
    /// (`None`: the model must have exactly one). Several names separated by commas
    /// (`Y,Y_h`) are proven together as one flat output, in that order.
    pub output: Option<String>,
}

/// The ONNX outputs to compute, among the graph's `names`: the one named, the
/// comma-separated ones named (an exact name wins over a split), or the only one.
pub(super) fn chosen<'a>(names: &[&'a str], opts: &ImportOptions) -> Result<Vec<&'a str>> {
    let find = |wanted: &str| {
        names.iter().copied().find(|n| *n == wanted).ok_or_else(|| {
            ModelError::invalid(
                "graph",
                format!("no output named '{wanted}' (outputs: {})", names.join(", ")),
            )
        })
    };
    match (&opts.output, names) {
        (Some(wanted), _) if names.contains(&wanted.as_str()) || !wanted.contains(',') => {
            Ok(vec![find(wanted)?])
        }
        (Some(list), _) => {
            let mut picked: Vec<&str> = Vec::new();
            for wanted in list.split(',').map(str::trim) {
                let name = find(wanted)?;
                if picked.contains(&name) {
                    return Err(ModelError::invalid(
                        "graph",
                        format!("output '{name}' is named twice in --output"),
                    ));
                }
                picked.push(name);
            }
            Ok(picked)
        }
        (None, [one]) => Ok(vec![*one]),
        (None, []) => Err(ModelError::invalid("graph", "the model has no output")),
        (None, many) => Err(ModelError::unsupported_use(
            "graph",
            "outputs",
            format!(
                "{} outputs; cipherproof proves those named: pick it with --output ({}), \
                 or several separated by commas",
                many.len(),
                many.join(", ")
            ),
        )),
    }
}

/// The value the model outputs: the one output picked, or the picked outputs each
/// flattened and concatenated in order (a Softmax among several is refused: the
/// circuits compute Softmax only as the model's last op).
pub(super) fn join(b: &mut Builder, picked: &[(&str, ValueId)]) -> Result<ValueId> {
    if let [(_, v)] = picked {
        return Ok(*v);
    }
    let mut flat = Vec::with_capacity(picked.len());
    let mut total = 0usize;
    for &(name, v) in picked {
        let softmax = b
            .graph
            .nodes
            .iter()
            .any(|n| n.output == v && matches!(n.op, Op::Softmax));
        if softmax {
            return Err(ModelError::unsupported_use(
                "Softmax",
                name,
                "an output computed by Softmax can only be proven alone (pick it by \
                 itself with --output)",
            ));
        }
        let shape = b.shape(v).to_vec();
        let n = shape.iter().product::<usize>();
        total = total.saturating_add(n);
        flat.push(if shape.len() == 1 {
            v
        } else {
            b.push(
                &format!("{name} (flattened)"),
                Op::Reshape,
                vec![v],
                vec![n],
            )
        });
    }
    let label = picked.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(",");
    Ok(b.push(&label, Op::Concat { axis: 0 }, flat, vec![total]))
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
