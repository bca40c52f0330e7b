//! Lookup tables for the table activations (sigmoid, tanh): fixed columns
//! `(tag, x, f(x))` holding every table of the model, and sets of advice
//! columns whose `(x, y)` pairs must appear in the table with their row's tag.
//!
//! Soundness of unused rows: a lookup row's tag is a fixed column, 0 where no
//! lookup is placed, and tables use tags ≥ 1; the table has one all-zero row,
//! so an unused row `(0, 0, 0)` matches it and nothing else can. A used row has
//! its tag fixed at keygen, so its `(x, y)` must be a real entry of that table.

use crate::field::{Fr, fr_i64};
use cipherproof_model::quant::{QOp, QuantModel};
use halo2_base::AssignedValue;
use halo2_base::halo2_proofs::circuit::{Region, Value};
use halo2_base::halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Fixed};
use halo2_base::halo2_proofs::poly::Rotation;
use halo2_base::utils::halo2::constrain_virtual_equals_external;
use halo2_base::virtual_region::copy_constraints::SharedCopyConstraintManager;

/// One table: `table[i] = f(i − offset)`, so its keys are `−offset .. len − offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub offset: i64,
    pub values: Vec<i64>,
}

/// The model's distinct tables, in node order; table `i` has tag `i + 1`.
#[derive(Debug, Clone, Default)]
pub struct LutTables {
    pub tables: Vec<Table>,
}

impl LutTables {
    /// Collects the tables of every `Lut` node of `model`, and each column of every
    /// `GatherConst` table gathered by lookup ([`gathers_by_lookup`]) (identical tables once).
    pub fn from_model(model: &QuantModel) -> Self {
        let mut tables: Vec<Table> = Vec::new();
        let mut add = |t: Table| {
            if !tables.contains(&t) {
                tables.push(t);
            }
        };
        for node in &model.nodes {
            match &node.op {
                QOp::Lut { offset, table, .. } => add(Table {
                    offset: *offset,
                    values: table.clone(),
                }),
                QOp::GatherConst { table, rows, .. } if gathers_by_lookup(*rows) => {
                    for values in table_columns(table, *rows) {
                        add(Table { offset: 0, values });
                    }
                }
                _ => {}
            }
        }
        Self { tables }
    }

    /// The tag of a `Lut` op's table (as returned by [`Self::from_model`]).
    pub fn tag_of(&self, offset: i64, values: &[i64]) -> Option<u64> {
        self.tables
            .iter()
            .position(|t| t.offset == offset && t.values == values)
            .map(|i| i as u64 + 1)
    }

    /// Rows the fixed table occupies (all entries plus the all-zero row).
    pub fn rows(&self) -> usize {
        self.tables.iter().map(|t| t.values.len()).sum::<usize>() + 1
    }

    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }
}

/// Whether a `GatherConst` of `rows` rows is laid out as lookups into the fixed tables
/// (one lookup per index and column) rather than as a one-hot selection (`O(rows)`
/// cells per index, cheaper only for small tables, which then need no table columns).
pub fn gathers_by_lookup(rows: usize) -> bool {
    rows > 32
}

/// The columns of a row-major table of `rows` rows.
pub fn table_columns(table: &[i64], rows: usize) -> Vec<Vec<i64>> {
    let width = table.len() / rows.max(1);
    (0..width)
        .map(|c| (0..rows).map(|r| table[r * width + c]).collect())
        .collect()
}

/// One looked-up pair: `y = table_tag[x]`.
#[derive(Debug, Clone, Copy)]
pub struct LutLookup {
    pub tag: u64,
    pub x: AssignedValue<Fr>,
    pub y: AssignedValue<Fr>,
}

/// The columns and lookup arguments of the tables.
#[derive(Debug, Clone)]
pub struct LutConfig {
    table: [Column<Fixed>; 3],
    /// Per set: `(x, y)` advice and the fixed tag.
    sets: Vec<([Column<Advice>; 2], Column<Fixed>)>,
}

impl LutConfig {
    /// Adds the table and `sets` lookup column sets to `meta`.
    pub fn configure(meta: &mut ConstraintSystem<Fr>, sets: usize) -> Self {
        let table = [(); 3].map(|_| meta.fixed_column());
        let sets: Vec<_> = (0..sets.max(1))
            .map(|_| {
                let xy = [(); 2].map(|_| {
                    let c = meta.advice_column();
                    meta.enable_equality(c);
                    c
                });
                (xy, meta.fixed_column())
            })
            .collect();
        for &(xy, tag) in &sets {
            meta.lookup_any("activation table", |meta| {
                let t = table.map(|c| meta.query_fixed(c, Rotation::cur()));
                let [x, y] = xy.map(|c| meta.query_advice(c, Rotation::cur()));
                let tag = meta.query_fixed(tag, Rotation::cur());
                let [tt, tx, ty] = t;
                vec![(tag, tt), (x, tx), (y, ty)]
            });
        }
        Self { table, sets }
    }

    /// Fills the table and places the lookups row by row across the sets,
    /// tying each to its halo2-base cell (when `copy_manager` is given).
    pub fn assign(
        &self,
        region: &mut Region<Fr>,
        tables: &LutTables,
        lookups: &[LutLookup],
        copy_manager: Option<&SharedCopyConstraintManager<Fr>>,
    ) {
        let mut row = 0;
        for c in self.table {
            region.assign_fixed(c, row, Fr::from(0u64));
        }
        for (i, t) in tables.tables.iter().enumerate() {
            let tag = Fr::from(i as u64 + 1);
            for (j, &v) in t.values.iter().enumerate() {
                row += 1;
                let cells = [tag, fr_i64(j as i64 - t.offset), fr_i64(v)];
                for (c, value) in self.table.into_iter().zip(cells) {
                    region.assign_fixed(c, row, value);
                }
            }
        }
        let mut copy = copy_manager.map(|c| c.lock().unwrap_or_else(|e| e.into_inner()));
        for (i, l) in lookups.iter().enumerate() {
            let (xy, tag) = self.sets[i % self.sets.len()];
            let row = i / self.sets.len();
            region.assign_fixed(tag, row, Fr::from(l.tag));
            for (column, cell) in xy.into_iter().zip([l.x, l.y]) {
                let raw = region.assign_advice(column, row, Value::known(cell.value));
                if let Some(copy) = copy.as_mut() {
                    constrain_virtual_equals_external(region, cell, raw.cell(), copy);
                }
            }
        }
    }
}
