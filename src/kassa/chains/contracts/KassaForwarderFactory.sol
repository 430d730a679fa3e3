// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {KassaForwarder} from "./KassaForwarder.sol";

/// @title Deploys Kassa deposit forwarders at their counterfactual CREATE2 addresses.
/// @notice Permissionless: deploying a forwarder only ever routes its funds to the recipients it was
/// computed for, so there is nothing to protect.
contract KassaForwarderFactory {
    event ForwarderDeployed(address indexed forwarder, bytes32 indexed salt);

    /// @notice The address a forwarder with these arguments has (or will have).
    function addressOf(bytes32 salt, address[] calldata recipients, uint256[] calldata percentages)
        public
        view
        returns (address)
    {
        bytes memory initCode =
            abi.encodePacked(type(KassaForwarder).creationCode, abi.encode(recipients, percentages));
        bytes32 digest = keccak256(abi.encodePacked(bytes1(0xff), address(this), salt, keccak256(initCode)));
        return address(uint160(uint256(digest)));
    }

    /// @notice Deploys the forwarder unless it exists, then forwards each token's balance.
    function deployAndForward(
        bytes32 salt,
        address[] calldata recipients,
        uint256[] calldata percentages,
        address[] calldata tokens
    ) external returns (address forwarder) {
        forwarder = addressOf(salt, recipients, percentages);
        if (forwarder.code.length == 0) {
            forwarder = address(new KassaForwarder{salt: salt}(recipients, percentages));
            emit ForwarderDeployed(forwarder, salt);
        }
        for (uint256 i = 0; i < tokens.length; i++) {
            KassaForwarder(forwarder).forward(tokens[i]);
        }
    }
}
