// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.19;

/// @title InferenceRegistry
/// @notice Models (id -> generated halo2 verifier) and the inferences proven for them.
/// A verifier is the contract `cipherproof verifier` writes: it takes
/// `instances ‖ proof` as raw calldata (each instance one 32-byte big-endian word)
/// and returns nothing on success, reverting otherwise.
contract InferenceRegistry {
    struct Model {
        address verifier;
        bytes32 vkHash;
        address owner;
        uint32 numInstances;
        uint64 verifyGas;
    }

    /// @notice The most gas a model may give its verifier per submission.
    uint64 public constant MAX_VERIFY_GAS = 5_000_000;

    mapping(bytes32 => Model) private models;
    /// @notice modelId => requestId => keccak256 of the verified instances (0: none).
    mapping(bytes32 => mapping(uint256 => bytes32)) public outputCommitment;

    event ModelRegistered(bytes32 indexed modelId, address verifier, bytes32 vkHash, address indexed owner);
    event ModelUpdated(bytes32 indexed modelId, address verifier, bytes32 vkHash, address indexed owner);
    event InferenceVerified(
        bytes32 indexed modelId,
        uint256 indexed requestId,
        bytes32 outputCommitment,
        address indexed submitter
    );

    error ModelExists(bytes32 modelId);
    error UnknownModel(bytes32 modelId);
    error NotModelOwner(bytes32 modelId, address caller);
    error BadVerifier(address verifier);
    error BadGasLimit(uint64 verifyGas);
    error WrongInstanceCount(uint256 expected, uint256 got);
    error RequestAlreadyVerified(bytes32 modelId, uint256 requestId);
    error ProofRejected(bytes32 modelId, uint256 requestId);
    error InsufficientGas(uint64 verifyGas);

    /// @notice Registers `modelId`; the caller owns it. `verifyGas` bounds each verification.
    function registerModel(bytes32 modelId, address verifier, bytes32 vkHash, uint32 numInstances, uint64 verifyGas)
        external
    {
        if (models[modelId].owner != address(0)) revert ModelExists(modelId);
        _check(verifier, verifyGas);
        models[modelId] = Model(verifier, vkHash, msg.sender, numInstances, verifyGas);
        emit ModelRegistered(modelId, verifier, vkHash, msg.sender);
    }

    /// @notice The owner may point a model at a new verifier (e.g. after a ceremony SRS) or hand it over.
    function updateModel(bytes32 modelId, address verifier, bytes32 vkHash, uint32 numInstances, uint64 verifyGas, address newOwner)
        external
    {
        Model storage m = _owned(modelId);
        _check(verifier, verifyGas);
        if (newOwner == address(0)) revert NotModelOwner(modelId, newOwner);
        (m.verifier, m.vkHash, m.numInstances, m.verifyGas, m.owner) = (verifier, vkHash, numInstances, verifyGas, newOwner);
        emit ModelUpdated(modelId, verifier, vkHash, newOwner);
    }

    function getModel(bytes32 modelId) external view returns (Model memory) {
        Model memory m = models[modelId];
        if (m.owner == address(0)) revert UnknownModel(modelId);
        return m;
    }

    function isRegistered(bytes32 modelId) external view returns (bool) {
        return models[modelId].owner != address(0);
    }

    /// @notice Verifies `proof` for `instances` with the model's verifier, within its gas bound,
    /// and records the commitment to the instances under (modelId, requestId). A request id
    /// is verified once.
    function submitInference(bytes32 modelId, uint256 requestId, uint256[] calldata instances, bytes calldata proof)
        external
        returns (bytes32 commitment)
    {
        Model memory m = models[modelId];
        if (m.owner == address(0)) revert UnknownModel(modelId);
        if (instances.length != m.numInstances) revert WrongInstanceCount(m.numInstances, instances.length);
        if (outputCommitment[modelId][requestId] != bytes32(0)) revert RequestAlreadyVerified(modelId, requestId);
        bytes memory data = abi.encodePacked(instances, proof);
        // EIP-150 forwards at most 63/64 of what is left: make sure the verifier gets its full
        // bound, so that a valid proof never fails for lack of gas inside the call.
        if (gasleft() < (uint256(m.verifyGas) * 64) / 63 + 10_000) revert InsufficientGas(m.verifyGas);
        (bool ok,) = m.verifier.staticcall{gas: m.verifyGas}(data);
        if (!ok) revert ProofRejected(modelId, requestId);
        commitment = keccak256(abi.encodePacked(instances));
        outputCommitment[modelId][requestId] = commitment;
        emit InferenceVerified(modelId, requestId, commitment, msg.sender);
    }

    function _owned(bytes32 modelId) private view returns (Model storage m) {
        m = models[modelId];
        if (m.owner == address(0)) revert UnknownModel(modelId);
        if (m.owner != msg.sender) revert NotModelOwner(modelId, msg.sender);
    }

    function _check(address verifier, uint64 verifyGas) private view {
        if (verifier.code.length == 0) revert BadVerifier(verifier);
        if (verifyGas == 0 || verifyGas > MAX_VERIFY_GAS) revert BadGasLimit(verifyGas);
    }
}
