// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title A per-checkout deposit address that can only ever pay out to the merchant.
/// @notice The recipients and their percentages are constructor arguments, so they are part of the init code
/// and therefore of this contract's CREATE2 address: funds sent to the address before it exists can only be
/// moved by deploying exactly this code with exactly these recipients. Anyone may call `forward`; it can send
/// nothing anywhere but to the fixed recipients. No owner, no upgrade, no other function that moves funds.
contract KassaForwarder {
    address[] private recipients;
    uint256[] private percentages;

    error BadSplit();
    error TransferFailed(address token, address to);

    constructor(address[] memory recipients_, uint256[] memory percentages_) {
        uint256 n = recipients_.length;
        if (n == 0 || n > 4 || n != percentages_.length) revert BadSplit();
        uint256 total;
        for (uint256 i = 0; i < n; i++) {
            if (recipients_[i] == address(0) || percentages_[i] == 0) revert BadSplit();
            total += percentages_[i];
        }
        if (total != 100) revert BadSplit();
        recipients = recipients_;
        percentages = percentages_;
    }

    /// @notice Pays this address's whole balance of `token` to the recipients, split by their percentages
    /// (rounded down, the remainder to the last recipient).
    function forward(address token) external {
        uint256 balance = _balanceOf(token);
        if (balance == 0) return;
        uint256 n = recipients.length;
        uint256 sent;
        for (uint256 i = 0; i < n; i++) {
            uint256 share = i == n - 1 ? balance - sent : (balance * percentages[i]) / 100;
            sent += share;
            if (share > 0) _transfer(token, recipients[i], share);
        }
    }

    /// @notice The fixed recipients and their percentages.
    function split() external view returns (address[] memory, uint256[] memory) {
        return (recipients, percentages);
    }

    function _balanceOf(address token) private view returns (uint256) {
        (bool ok, bytes memory data) = token.staticcall(abi.encodeWithSelector(0x70a08231, address(this)));
        if (!ok || data.length < 32) revert TransferFailed(token, address(this));
        return abi.decode(data, (uint256));
    }

    /// Tokens such as USDT return nothing from transfer; accept empty return data or `true`.
    function _transfer(address token, address to, uint256 amount) private {
        (bool ok, bytes memory data) = token.call(abi.encodeWithSelector(0xa9059cbb, to, amount));
        if (!ok || (data.length != 0 && !abi.decode(data, (bool)))) revert TransferFailed(token, to);
    }
}
