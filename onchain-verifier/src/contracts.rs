//! The Solidity contracts of `onchain-verifier/contracts/` (embedded in the
//! binary), compiled with the pinned solc, and their ABI as alloy `sol!` bindings.
//!
//! * `InferenceRegistry`: model id → verifier; verified inferences by request id.
//! * `ComputeSettlement`: escrowed pay-for-proof jobs settled through the registry.
//! * `AgentNFT` + `OracleDataVerifier`: ERC-7857 agents bound to registered models.

use crate::error::{OnchainError, Result};
use crate::solc::{CompiledContract, SolcSettings, compile};

/// Every contract source, by file name.
pub const SOURCES: [(&str, &str); 6] = [
    (
        "IInferenceRegistry.sol",
        include_str!("../contracts/IInferenceRegistry.sol"),
    ),
    (
        "InferenceRegistry.sol",
        include_str!("../contracts/InferenceRegistry.sol"),
    ),
    (
        "ComputeSettlement.sol",
        include_str!("../contracts/ComputeSettlement.sol"),
    ),
    ("IERC7857.sol", include_str!("../contracts/IERC7857.sol")),
    ("AgentNFT.sol", include_str!("../contracts/AgentNFT.sol")),
    (
        "OracleDataVerifier.sol",
        include_str!("../contracts/OracleDataVerifier.sol"),
    ),
];

/// The deployable contracts, compiled.
#[derive(Debug, Clone)]
pub struct Contracts {
    pub registry: CompiledContract,
    pub settlement: CompiledContract,
    pub agent: CompiledContract,
    pub oracle_verifier: CompiledContract,
}

/// Compiles every contract (optimizer on) and checks each fits EIP-170.
pub fn compile_contracts() -> Result<Contracts> {
    let all = compile(
        &SOURCES,
        SolcSettings {
            optimize: true,
            runs: 200,
        },
    )?;
    let take = |name: &str| -> Result<CompiledContract> {
        let c = all
            .iter()
            .find(|c| c.name == name)
            .cloned()
            .ok_or_else(|| OnchainError::Solc {
                contract: name.into(),
                reason: "not in the compiler output".into(),
            })?;
        c.check_size()?;
        Ok(c)
    };
    Ok(Contracts {
        registry: take("InferenceRegistry")?,
        settlement: take("ComputeSettlement")?,
        agent: take("AgentNFT")?,
        oracle_verifier: take("OracleDataVerifier")?,
    })
}

alloy_sol_types::sol! {
    #[derive(Debug, PartialEq, Eq)]
    struct RegisteredModel {
        address verifier;
        bytes32 vkHash;
        address owner;
        uint32 numInstances;
        uint64 verifyGas;
    }

    #[derive(Debug, PartialEq, Eq)]
    struct SettlementJob {
        address requester;
        bytes32 modelId;
        bytes32 inputCommitment;
        uint256 fee;
        uint64 deadline;
        uint8 status;
        address prover;
        bytes32 outputCommitment;
    }

    interface InferenceRegistry {
        event ModelRegistered(bytes32 indexed modelId, address verifier, bytes32 vkHash, address indexed owner);
        event InferenceVerified(bytes32 indexed modelId, uint256 indexed requestId, bytes32 outputCommitment, address indexed submitter);
        function registerModel(bytes32 modelId, address verifier, bytes32 vkHash, uint32 numInstances, uint64 verifyGas) external;
        function updateModel(bytes32 modelId, address verifier, bytes32 vkHash, uint32 numInstances, uint64 verifyGas, address newOwner) external;
        function getModel(bytes32 modelId) external view returns (RegisteredModel memory);
        function isRegistered(bytes32 modelId) external view returns (bool);
        function outputCommitment(bytes32 modelId, uint256 requestId) external view returns (bytes32);
        function submitInference(bytes32 modelId, uint256 requestId, uint256[] calldata instances, bytes calldata proof) external returns (bytes32);
    }

    interface ComputeSettlement {
        event JobOpened(uint256 indexed jobId, address indexed requester, bytes32 indexed modelId, bytes32 inputCommitment, uint256 fee, uint64 deadline);
        event JobFulfilled(uint256 indexed jobId, address indexed prover, bytes32 outputCommitment, uint256 fee);
        event JobReclaimed(uint256 indexed jobId, address indexed requester, uint256 fee);
        function openJob(bytes32 modelId, bytes32 inputCommitment, uint64 deadline) external payable returns (uint256);
        function getJob(uint256 jobId) external view returns (SettlementJob memory);
        function requestIdOf(uint256 jobId) external view returns (uint256);
        function fulfil(uint256 jobId, uint256[] calldata instances, bytes calldata proof) external;
        function reclaim(uint256 jobId) external;
    }

    interface AgentNFT {
        event Transferred(uint256 indexed tokenId, address indexed from, address indexed to);
        event PublishedSealedKey(address indexed to, uint256 indexed tokenId, bytes sealedKey);
        event AgentInference(uint256 indexed tokenId, uint256 indexed requestId, bytes32 outputCommitment);
        function mint(bytes32 modelId, bytes calldata proof, string[] calldata descriptions) external returns (uint256);
        function transfer(address to, uint256 tokenId, bytes calldata proof) external;
        function clone(address to, uint256 tokenId, bytes calldata proof) external returns (uint256);
        function authorizeUsage(uint256 tokenId, address user) external;
        function recordInference(uint256 tokenId, uint256 requestId) external returns (bytes32);
        function ownerOf(uint256 tokenId) external view returns (address);
        function inferencesOf(uint256 tokenId) external view returns (uint256);
        function authorizedUsersOf(uint256 tokenId) external view returns (address[] memory);
        function dataHashesOf(uint256 tokenId) external view returns (bytes32[] memory);
    }

    interface OracleDataVerifier {
        function oracle() external view returns (address);
    }
}
