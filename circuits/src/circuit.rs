//! The model circuit: halo2-base's gate and range columns ([`BaseConfig`]),
//! the activation tables of [`crate::lut`], the dot-product gate of
//! [`crate::dot`] and the instance column of [`crate::public`], laid out in
//! one region. Build it, [`ModelCircuit::assign`] a model, size it with
//! [`ModelCircuit::calculate_params`] (keygen) or start from compiled
//! [`ModelCircuitParams`] and break points (proving).

use crate::constants::ConstantGateConfig;
use crate::dot::{DotConfig, DotJob, DotQueue, DotShape, sets_needed};
use crate::error::{CircuitError, Result};
use crate::field::Fr;
use crate::layout::{ModelWitness, assign_model};
use crate::lut::{LutConfig, LutLookup, LutTables};
use crate::public::PublicConfig;
use crate::visibility::InputVisibility;
use cipherproof_model::quant::QuantModel;
use halo2_base::AssignedValue;
use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use halo2_base::gates::circuit::{
    BaseCircuitParams, BaseConfig, CircuitBuilderStage, MaybeRangeConfig,
};
use halo2_base::gates::flex_gate::MultiPhaseThreadBreakPoints;
use halo2_base::halo2_proofs::circuit::{Layouter, SimpleFloorPlanner};
use halo2_base::halo2_proofs::plonk::{Circuit, ConstraintSystem, Error};
use halo2_base::virtual_region::manager::VirtualRegionManager;
use serde::{Deserialize, Serialize};

/// The smallest limb size of range checks (a 2^8-row lookup table); the planner
/// may pick larger limbs for large circuits.
pub const LOOKUP_BITS: usize = 8;

/// Rows at the end of every column that halo2 keeps for blinding (and that
/// `calculate_params` is told to avoid).
pub const RESERVED_ROWS: usize = 9;

/// The shape of a model circuit: halo2-base's parameters and the number of
/// activation-table lookup column sets (0 when the model has no table).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ModelCircuitParams {
    #[serde(flatten)]
    pub base: BaseCircuitParams,
    #[serde(default)]
    pub lut_sets: usize,
    /// Dot-product gate columns (none in circuits compiled before it existed).
    #[serde(default)]
    pub dot: DotShape,
    /// Constants pinned by [`crate::constants`]'s gate instead of copies from
    /// halo2-base's constants column (one-column circuits).
    #[serde(default)]
    pub constant_gate: bool,
}

impl ModelCircuitParams {
    /// Advice columns: halo2-base's gate columns, the activation-table pairs and
    /// the dot-product gate's (range-check limb columns not included).
    pub fn advice_columns(&self) -> usize {
        self.base.num_advice_per_phase.iter().sum::<usize>()
            + 2 * self.lut_sets
            + self.dot.advice_columns()
    }

    /// Range-check limb (lookup advice) columns.
    pub fn lookup_advice_columns(&self) -> usize {
        self.base.num_lookup_advice_per_phase.iter().sum()
    }

    /// Fixed columns: halo2-base's, the activation tables and tags, and the
    /// dot-product gate's weights, chain and bias (selectors not included).
    pub fn fixed_columns(&self) -> usize {
        let lut = if self.lut_sets > 0 {
            3 + self.lut_sets
        } else {
            0
        };
        self.base.num_fixed + lut + self.dot.fixed_columns() + usize::from(self.constant_gate)
    }
}

/// Columns of the model circuit.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    pub base: BaseConfig<Fr>,
    pub lut: Option<LutConfig>,
    pub dot: Option<DotConfig>,
    pub public: PublicConfig,
    pub constants: Option<ConstantGateConfig>,
}

/// A model laid out (or to be laid out) as a circuit.
#[derive(Debug, Clone)]
pub struct ModelCircuit {
    pub builder: BaseCircuitBuilder<Fr>,
    pub tables: LutTables,
    pub lookups: Vec<LutLookup>,
    /// Dense/conv sums for the dot-product gate (empty when it is off).
    pub dots: Vec<DotJob>,
    /// Inputs per dot-product row; 0 lays sums out on halo2-base's gate.
    pub dot_width: usize,
    /// The instance copies (first rows of the first gate column).
    pub public: Vec<AssignedValue<Fr>>,
    /// Bits of each output (their packing into instances, [`crate::packing`]).
    pub output_bits: u32,
    pub params: ModelCircuitParams,
}

impl ModelCircuit {
    /// An empty circuit for `stage` at 2^k rows with `lookup_bits`-bit range-check
    /// limbs (keygen and mock runs; sized later).
    pub fn new(stage: CircuitBuilderStage, k: u32, lookup_bits: usize) -> Self {
        let builder = BaseCircuitBuilder::from_stage(stage)
            .use_k(k as usize)
            .use_lookup_bits(lookup_bits);
        let params = ModelCircuitParams {
            base: builder.config_params.clone(),
            lut_sets: 0,
            dot: DotShape::default(),
            constant_gate: false,
        };
        Self {
            builder,
            tables: LutTables::default(),
            lookups: Vec::new(),
            dots: Vec::new(),
            dot_width: 0,
            public: Vec::new(),
            output_bits: 0,
            params,
        }
    }

    /// Lays dense/conv sums out on the dot-product gate, `width` inputs per row
    /// (0: on halo2-base's gate). Call before [`Self::assign`].
    pub fn with_dot_width(mut self, width: usize) -> Self {
        self.dot_width = width;
        self
    }

    /// A witness-only circuit with a compiled shape, for proving.
    pub fn prover(params: ModelCircuitParams, break_points: MultiPhaseThreadBreakPoints) -> Self {
        let builder = BaseCircuitBuilder::prover(params.base.clone(), break_points);
        let dot_width = params.dot.row_width();
        Self {
            builder,
            tables: LutTables::default(),
            lookups: Vec::new(),
            dots: Vec::new(),
            dot_width,
            public: Vec::new(),
            output_bits: 0,
            params,
        }
    }

    /// Lays `model` out on the quantized `input` (see [`assign_model`]).
    pub fn assign(
        &mut self,
        model: &QuantModel,
        input: &[i64],
        visibility: InputVisibility,
    ) -> Result<ModelWitness> {
        self.tables = LutTables::from_model(model);
        let dots = (self.dot_width > 0).then(|| DotQueue::new(&mut self.dots, self.dot_width));
        let witness = assign_model(
            &mut self.builder,
            &self.tables,
            &mut self.lookups,
            dots,
            model,
            input,
            visibility,
        )?;
        self.public = witness.public.clone();
        self.output_bits = model.values[model.output].bits;
        Ok(witness)
    }

    /// Sizes the columns for what was assigned at this circuit's k; fails when
    /// one dot-product job is longer than a column.
    pub fn calculate_params(&mut self) -> Result<ModelCircuitParams> {
        let mut base = self.builder.calculate_params(Some(RESERVED_ROWS));
        // One gate column holds every constant cell: pin them by a gate.
        let constant_gate = base.num_advice_per_phase.iter().sum::<usize>() == 1;
        if constant_gate {
            base.num_fixed = 0;
        }
        let k = base.k as u32;
        let usable = (1usize << k) - RESERVED_ROWS;
        let terms: Vec<usize> = self.dots.iter().map(|j| j.inputs.len()).collect();
        let dot_sets =
            sets_needed(&terms, self.dot_width, usable).ok_or(CircuitError::TooLarge {
                needed: k + 1,
                max: k,
            })?;
        self.params = ModelCircuitParams {
            base,
            lut_sets: self.lookups.len().div_ceil(usable),
            dot: DotShape {
                width: self.dot_width,
                sets: dot_sets,
            },
            constant_gate,
        };
        Ok(self.params.clone())
    }

    pub fn break_points(&self) -> MultiPhaseThreadBreakPoints {
        self.builder.break_points()
    }

    /// The instances that outputs `outputs` stand for (after the input's);
    /// `None` if one is outside the output range.
    pub fn output_instances(&self, outputs: &[i64]) -> Option<Vec<Fr>> {
        crate::packing::pack(outputs, self.output_bits)
    }

    /// The public instances (one column) as laid out.
    pub fn instances(&self) -> Vec<Fr> {
        self.public.iter().map(|c| *c.value()).collect()
    }
}

/// Each permutation product covers `degree − 2` equality columns and the
/// quotient has `degree − 1` pieces, every one a committed polynomial; degree
/// 5 needs the same extended domain as 4 (4·2^k). So with many equality
/// columns (wide layouts) degree 5 commits fewer polynomials:
/// `⌈P/3⌉ + 4 < ⌈P/2⌉ + 3`, i.e. from P = 9 columns on.
fn raise_degree_if_cheaper(meta: &mut ConstraintSystem<Fr>) {
    let p = meta.permutation().get_columns().len();
    if meta.degree() == 4 && p.div_ceil(3) + 4 < p.div_ceil(2) + 3 {
        meta.set_minimum_degree(5);
    }
}

impl Circuit<Fr> for ModelCircuit {
    type Config = ModelConfig;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = ModelCircuitParams;

    fn params(&self) -> Self::Params {
        self.params.clone()
    }

    /// The circuit's shape does not depend on its witness (the layout never branches
    /// on data), so a copy serves wherever halo2 asks for a witness-free instance.
    fn without_witnesses(&self) -> Self {
        self.clone()
    }

    fn configure_with_params(meta: &mut ConstraintSystem<Fr>, params: Self::Params) -> ModelConfig {
        let k = params.base.k;
        let mut base = BaseConfig::configure(meta, params.base);
        let lut = (params.lut_sets > 0).then(|| LutConfig::configure(meta, params.lut_sets));
        let dot = (params.dot.sets > 0).then(|| DotConfig::configure(meta, params.dot));
        let first_gate_column = base.gate().basic_gates[0][0].value;
        let public = PublicConfig::configure(meta, first_gate_column);
        let constants = params
            .constant_gate
            .then(|| ConstantGateConfig::configure(meta, first_gate_column));
        raise_degree_if_cheaper(meta);
        base.set_usable_rows((1usize << k) - meta.minimum_rows());
        ModelConfig {
            base,
            lut,
            dot,
            public,
            constants,
        }
    }

    fn configure(_: &mut ConstraintSystem<Fr>) -> ModelConfig {
        unreachable!("model circuits are configured with their params")
    }

    fn synthesize(
        &self,
        config: ModelConfig,
        mut layouter: impl Layouter<Fr>,
    ) -> Result<(), Error> {
        config.base.initialize(&mut layouter);
        let core = self.builder.core();
        let witness_only = core.witness_gen_only();
        layouter.assign_region(
            || "model",
            |mut region| {
                let gate = config.base.gate();
                config.public.assign(&mut region, self.public.len());
                core.phase_manager[0]
                    .assign_raw(&(gate.basic_gates[0].clone(), gate.max_rows), &mut region);
                if let MaybeRangeConfig::WithRange(range) = &config.base.base {
                    self.builder.assign_lookups_in_phase(range, &mut region, 0);
                }
                if let Some(lut) = &config.lut {
                    let copy = (!witness_only).then_some(&core.copy_manager);
                    lut.assign(&mut region, &self.tables, &self.lookups, copy);
                }
                if let Some(dot) = &config.dot {
                    let copy = (!witness_only).then_some(&core.copy_manager);
                    let usable = (1usize << self.params.base.k) - RESERVED_ROWS;
                    dot.assign(&mut region, &self.dots, usable, copy);
                }
                if !witness_only {
                    match &config.constants {
                        Some(constants) => {
                            constants.assign_copies(&core.copy_manager, &mut region)?
                        }
                        None => core
                            .copy_manager
                            .assign_raw(config.base.constants(), &mut region),
                    }
                }
                Ok(())
            },
        )?;
        Ok(())
    }
}
