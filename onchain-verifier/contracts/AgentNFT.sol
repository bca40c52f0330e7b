// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.19;

import "./IERC7857.sol";
import "./IInferenceRegistry.sol";

/// @title AgentNFT
/// @notice ERC-7857 agents bound to a registered model. The agent's private data (weights,
/// memory) lives off-chain encrypted; the token holds its hashes. Transfers and clones carry a
/// proof, checked by the data verifier, that the data was re-encrypted for the new owner.
/// An agent's inference results count only once the registry has verified them.
contract AgentNFT is IERC7857, IERC7857Metadata {
    struct Agent {
        address owner;
        bytes32 modelId;
        bytes32[] dataHashes;
        string[] descriptions;
        address[] users;
        uint256 inferences;
    }

    IERC7857DataVerifier private immutable dataVerifier;
    IInferenceRegistry public immutable registry;
    uint256 public nextTokenId = 1;
    mapping(uint256 => Agent) private agents;
    mapping(uint256 => mapping(uint256 => bool)) public inferenceRecorded;

    event AgentInference(uint256 indexed tokenId, uint256 indexed requestId, bytes32 outputCommitment);

    error UnknownToken(uint256 tokenId);
    error NotOwner(uint256 tokenId, address caller);
    error UnknownModel(bytes32 modelId);
    error InvalidProof();
    error DataMismatch();
    error ZeroAddress();
    error NotVerified(bytes32 modelId, uint256 requestId);
    error AlreadyRecorded(uint256 tokenId, uint256 requestId);

    constructor(IERC7857DataVerifier verifier_, IInferenceRegistry registry_) {
        dataVerifier = verifier_;
        registry = registry_;
    }

    function name() external pure returns (string memory) {
        return "cipherproof agent";
    }

    function symbol() external pure returns (string memory) {
        return "CPAGENT";
    }

    function verifier() external view returns (IERC7857DataVerifier) {
        return dataVerifier;
    }

    /// @notice Mints an agent for a registered model; `proof` shows ownership of its data.
    function mint(bytes32 modelId, bytes calldata proof, string[] calldata descriptions)
        external
        returns (uint256 tokenId)
    {
        if (!registry.isRegistered(modelId)) revert UnknownModel(modelId);
        IERC7857DataVerifier.OwnershipProofOutput memory out = dataVerifier.verifyOwnership(proof);
        if (!out.isValid || out.dataHashes.length != descriptions.length) revert InvalidProof();
        tokenId = nextTokenId++;
        Agent storage a = agents[tokenId];
        (a.owner, a.modelId, a.dataHashes) = (msg.sender, modelId, out.dataHashes);
        for (uint256 i = 0; i < descriptions.length; i++) {
            a.descriptions.push(descriptions[i]);
        }
        emit Minted(tokenId, msg.sender, msg.sender);
    }

    function transfer(address to, uint256 tokenId, bytes calldata proof) external {
        Agent storage a = _owned(tokenId);
        bytes memory sealedKey = _reencrypted(a, to, proof);
        delete a.users;
        address from = a.owner;
        a.owner = to;
        emit Transferred(tokenId, from, to);
        emit PublishedSealedKey(to, tokenId, sealedKey);
    }

    function clone(address to, uint256 tokenId, bytes calldata proof) external returns (uint256 newTokenId) {
        Agent storage a = _owned(tokenId);
        bytes32[] memory oldHashes = a.dataHashes;
        bytes memory sealedKey = _reencrypted(a, to, proof);
        newTokenId = nextTokenId++;
        Agent storage c = agents[newTokenId];
        c.owner = to;
        c.modelId = a.modelId;
        c.dataHashes = a.dataHashes;
        c.descriptions = a.descriptions;
        a.dataHashes = oldHashes; // the original keeps its own data
        emit Cloned(tokenId, newTokenId, msg.sender, to);
        emit PublishedSealedKey(to, newTokenId, sealedKey);
    }

    function authorizeUsage(uint256 tokenId, address user) external {
        Agent storage a = _owned(tokenId);
        if (user == address(0)) revert ZeroAddress();
        a.users.push(user);
        emit AuthorizedUsage(tokenId, user);
    }

    /// @notice Counts a registry-verified inference of the agent's model for the agent.
    function recordInference(uint256 tokenId, uint256 requestId) external returns (bytes32 commitment) {
        Agent storage a = _agent(tokenId);
        commitment = registry.outputCommitment(a.modelId, requestId);
        if (commitment == bytes32(0)) revert NotVerified(a.modelId, requestId);
        if (inferenceRecorded[tokenId][requestId]) revert AlreadyRecorded(tokenId, requestId);
        inferenceRecorded[tokenId][requestId] = true;
        a.inferences += 1;
        emit AgentInference(tokenId, requestId, commitment);
    }

    function ownerOf(uint256 tokenId) external view returns (address) {
        return _agent(tokenId).owner;
    }

    function modelOf(uint256 tokenId) external view returns (bytes32) {
        return _agent(tokenId).modelId;
    }

    function inferencesOf(uint256 tokenId) external view returns (uint256) {
        return _agent(tokenId).inferences;
    }

    function authorizedUsersOf(uint256 tokenId) external view returns (address[] memory) {
        return _agent(tokenId).users;
    }

    function dataHashesOf(uint256 tokenId) external view returns (bytes32[] memory) {
        return _agent(tokenId).dataHashes;
    }

    function dataDescriptionsOf(uint256 tokenId) external view returns (string[] memory) {
        return _agent(tokenId).descriptions;
    }

    /// Checks a transfer proof against the agent's current data; moves it to the new hashes.
    function _reencrypted(Agent storage a, address to, bytes calldata proof) private returns (bytes memory) {
        if (to == address(0)) revert ZeroAddress();
        IERC7857DataVerifier.TransferValidityProofOutput memory out = dataVerifier.verifyTransferValidity(proof);
        if (!out.isValid) revert InvalidProof();
        if (out.newDataHashes.length != a.dataHashes.length) revert DataMismatch();
        if (keccak256(abi.encode(out.oldDataHashes)) != keccak256(abi.encode(a.dataHashes))) revert DataMismatch();
        a.dataHashes = out.newDataHashes;
        return out.sealedKey;
    }

    function _agent(uint256 tokenId) private view returns (Agent storage a) {
        a = agents[tokenId];
        if (a.owner == address(0)) revert UnknownToken(tokenId);
    }

    function _owned(uint256 tokenId) private view returns (Agent storage a) {
        a = _agent(tokenId);
        if (a.owner != msg.sender) revert NotOwner(tokenId, msg.sender);
    }
}
