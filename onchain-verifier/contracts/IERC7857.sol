// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.19;

/// @notice ERC-7857 (draft): checks the proofs that move an agent's private data to a new owner.
interface IERC7857DataVerifier {
    struct OwnershipProofOutput {
        bytes32[] dataHashes;
        bool isValid;
    }

    struct TransferValidityProofOutput {
        bytes32[] oldDataHashes;
        bytes32[] newDataHashes;
        bytes pubKey;
        bytes sealedKey;
        bool isValid;
    }

    /// @notice The prover knows the data behind `dataHashes`.
    function verifyOwnership(bytes calldata proof) external returns (OwnershipProofOutput memory);

    /// @notice The data behind `oldDataHashes` was re-encrypted as `newDataHashes`, and its key
    /// sealed for `pubKey` as `sealedKey`.
    function verifyTransferValidity(bytes calldata proof) external returns (TransferValidityProofOutput memory);
}

/// @notice ERC-7857 (draft): NFTs whose value is private data (an agent's model and memory).
interface IERC7857 {
    event Minted(uint256 indexed tokenId, address indexed creator, address indexed owner);
    event Transferred(uint256 indexed tokenId, address indexed from, address indexed to);
    event Cloned(uint256 indexed tokenId, uint256 indexed newTokenId, address from, address to);
    event PublishedSealedKey(address indexed to, uint256 indexed tokenId, bytes sealedKey);
    event AuthorizedUsage(uint256 indexed tokenId, address indexed user);

    function verifier() external view returns (IERC7857DataVerifier);
    function transfer(address to, uint256 tokenId, bytes calldata proof) external;
    function clone(address to, uint256 tokenId, bytes calldata proof) external returns (uint256 newTokenId);
    function authorizeUsage(uint256 tokenId, address user) external;
    function ownerOf(uint256 tokenId) external view returns (address);
    function authorizedUsersOf(uint256 tokenId) external view returns (address[] memory);
}

/// @notice ERC-7857 (draft) metadata.
interface IERC7857Metadata {
    function name() external view returns (string memory);
    function symbol() external view returns (string memory);
    function dataHashesOf(uint256 tokenId) external view returns (bytes32[] memory);
    function dataDescriptionsOf(uint256 tokenId) external view returns (string[] memory);
}
