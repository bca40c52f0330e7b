// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.19;

import "./IERC7857.sol";

/// @title OracleDataVerifier
/// @notice An IERC7857DataVerifier trusting one oracle key: the cipherproof gateway, which
/// re-encrypts an agent's sealed data key for the new owner and signs what it did. A proof is
/// `abi.encode(payload fields..., uint256 nonce, bytes signature)`; the signature is the
/// oracle's eth_sign over keccak256 of the chain id, this contract, the kind and the payload.
/// Each nonce is accepted once. (ZK and TEE alternatives: docs/ONCHAIN.md.)
contract OracleDataVerifier is IERC7857DataVerifier {
    address public immutable oracle;
    mapping(uint256 => bool) public nonceUsed;

    error BadSignature();
    error NonceUsed(uint256 nonce);

    constructor(address oracle_) {
        oracle = oracle_;
    }

    /// @notice proof = abi.encode(bytes32[] dataHashes, uint256 nonce, bytes signature)
    function verifyOwnership(bytes calldata proof) external returns (OwnershipProofOutput memory out) {
        (bytes32[] memory hashes, uint256 nonce, bytes memory sig) = abi.decode(proof, (bytes32[], uint256, bytes));
        _use(nonce, keccak256(abi.encode(block.chainid, address(this), "ownership", hashes, nonce)), sig);
        out = OwnershipProofOutput(hashes, true);
    }

    /// @notice proof = abi.encode(bytes32[] oldHashes, bytes32[] newHashes, bytes pubKey, bytes sealedKey,
    /// uint256 nonce, bytes signature)
    function verifyTransferValidity(bytes calldata proof) external returns (TransferValidityProofOutput memory out) {
        (
            bytes32[] memory oldHashes,
            bytes32[] memory newHashes,
            bytes memory pubKey,
            bytes memory sealedKey,
            uint256 nonce,
            bytes memory sig
        ) = abi.decode(proof, (bytes32[], bytes32[], bytes, bytes, uint256, bytes));
        bytes32 digest = keccak256(
            abi.encode(block.chainid, address(this), "transfer", oldHashes, newHashes, pubKey, sealedKey, nonce)
        );
        _use(nonce, digest, sig);
        out = TransferValidityProofOutput(oldHashes, newHashes, pubKey, sealedKey, true);
    }

    function _use(uint256 nonce, bytes32 digest, bytes memory sig) private {
        if (nonceUsed[nonce]) revert NonceUsed(nonce);
        if (_recover(digest, sig) != oracle) revert BadSignature();
        nonceUsed[nonce] = true;
    }

    function _recover(bytes32 digest, bytes memory sig) private pure returns (address) {
        if (sig.length != 65) return address(0);
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly {
            r := mload(add(sig, 32))
            s := mload(add(sig, 64))
            v := byte(0, mload(add(sig, 96)))
        }
        if (v < 27) v += 27;
        // Reject malleable (high-s) signatures.
        if (uint256(s) > 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0) return address(0);
        bytes32 signed = keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", digest));
        return ecrecover(signed, v, r, s);
    }
}
