// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.19;

import "./IInferenceRegistry.sol";

/// @title ComputeSettlement
/// @notice Pay-for-proof jobs. A requester escrows a fee for an inference of a registered
/// model on a committed input; the first prover whose proof the registry verifies before
/// the deadline is paid; after the deadline an unfulfilled job can be reclaimed.
///
/// The input commitment is the proof's first public instance: jobs are for models compiled
/// with `--input-visibility hashed`, whose first instance is the Poseidon commitment to the
/// input (or `public` models, where it is the first input value).
contract ComputeSettlement {
    enum Status {
        None,
        Open,
        Fulfilled,
        Reclaimed
    }

    struct Job {
        address requester;
        bytes32 modelId;
        bytes32 inputCommitment;
        uint256 fee;
        uint64 deadline;
        Status status;
        address prover;
        bytes32 outputCommitment;
    }

    IInferenceRegistry public immutable registry;
    uint256 public nextJobId = 1;
    mapping(uint256 => Job) private jobs;

    event JobOpened(
        uint256 indexed jobId,
        address indexed requester,
        bytes32 indexed modelId,
        bytes32 inputCommitment,
        uint256 fee,
        uint64 deadline
    );
    event JobFulfilled(uint256 indexed jobId, address indexed prover, bytes32 outputCommitment, uint256 fee);
    event JobReclaimed(uint256 indexed jobId, address indexed requester, uint256 fee);

    error UnknownModel(bytes32 modelId);
    error NoFee();
    error DeadlinePassed(uint64 deadline);
    error DeadlineNotPassed(uint64 deadline);
    error JobNotOpen(uint256 jobId);
    error NotRequester(uint256 jobId, address caller);
    error WrongInput(bytes32 expected, bytes32 got);
    error PaymentFailed(address to);

    constructor(IInferenceRegistry registry_) {
        registry = registry_;
    }

    function openJob(bytes32 modelId, bytes32 inputCommitment, uint64 deadline)
        external
        payable
        returns (uint256 jobId)
    {
        if (!registry.isRegistered(modelId)) revert UnknownModel(modelId);
        if (msg.value == 0) revert NoFee();
        if (deadline <= block.timestamp) revert DeadlinePassed(deadline);
        jobId = nextJobId++;
        jobs[jobId] = Job(msg.sender, modelId, inputCommitment, msg.value, deadline, Status.Open, address(0), 0);
        emit JobOpened(jobId, msg.sender, modelId, inputCommitment, msg.value, deadline);
    }

    function getJob(uint256 jobId) external view returns (Job memory) {
        return jobs[jobId];
    }

    /// @notice The registry request id under which a job's proof is recorded.
    function requestIdOf(uint256 jobId) public view returns (uint256) {
        return uint256(keccak256(abi.encode(block.chainid, address(this), jobId)));
    }

    /// @notice Proves the job through the registry and pays the caller.
    function fulfil(uint256 jobId, uint256[] calldata instances, bytes calldata proof) external {
        Job storage job = jobs[jobId];
        if (job.status != Status.Open) revert JobNotOpen(jobId);
        if (block.timestamp > job.deadline) revert DeadlinePassed(job.deadline);
        bytes32 input = instances.length > 0 ? bytes32(instances[0]) : bytes32(0);
        if (input != job.inputCommitment) revert WrongInput(job.inputCommitment, input);
        bytes32 output = registry.submitInference(job.modelId, requestIdOf(jobId), instances, proof);
        (job.status, job.prover, job.outputCommitment) = (Status.Fulfilled, msg.sender, output);
        uint256 fee = job.fee;
        emit JobFulfilled(jobId, msg.sender, output, fee);
        _pay(msg.sender, fee);
    }

    /// @notice After the deadline the requester takes back the fee of an unfulfilled job.
    function reclaim(uint256 jobId) external {
        Job storage job = jobs[jobId];
        if (job.status != Status.Open) revert JobNotOpen(jobId);
        if (msg.sender != job.requester) revert NotRequester(jobId, msg.sender);
        if (block.timestamp <= job.deadline) revert DeadlineNotPassed(job.deadline);
        job.status = Status.Reclaimed;
        uint256 fee = job.fee;
        emit JobReclaimed(jobId, msg.sender, fee);
        _pay(msg.sender, fee);
    }

    function _pay(address to, uint256 amount) private {
        (bool ok,) = payable(to).call{value: amount}("");
        if (!ok) revert PaymentFailed(to);
    }
}
