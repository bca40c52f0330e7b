//! The CPU features this build's field arithmetic needs. On x86-64 the BN254
//! field uses halo2curves' assembly (`asm`: MULX, ADCX, ADOX), which needs
//! BMI2 and ADX; a CPU without them would die on an illegal instruction, so
//! every entry point that loads an SRS checks first and says what is missing.

use crate::error::{ProverError, Result};

/// `Ok` when this CPU can run this build's field arithmetic.
pub fn check() -> Result<()> {
    #[cfg(target_arch = "x86_64")]
    {
        let missing: Vec<&str> = [
            ("bmi2", std::arch::is_x86_feature_detected!("bmi2")),
            ("adx", std::arch::is_x86_feature_detected!("adx")),
        ]
        .into_iter()
        .filter_map(|(name, present)| (!present).then_some(name))
        .collect();
        if !missing.is_empty() {
            return Err(ProverError::CpuUnsupported(format!(
                "this build's BN254 assembly needs the x86-64 features bmi2 and adx; this CPU lacks {}",
                missing.join(" and ")
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The machines we build and test on have both features.
    #[test]
    fn this_cpu_runs_the_field_assembly() {
        assert!(super::check().is_ok());
    }
}
