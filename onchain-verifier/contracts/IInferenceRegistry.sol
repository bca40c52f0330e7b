// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.19;

/// @notice What settlement and agent contracts need from the registry.
interface IInferenceRegistry {
    function isRegistered(bytes32 modelId) external view returns (bool);
    function outputCommitment(bytes32 modelId, uint256 requestId) external view returns (bytes32);
    function submitInference(bytes32 modelId, uint256 requestId, uint256[] calldata instances, bytes calldata proof)
        external
        returns (bytes32);
}
