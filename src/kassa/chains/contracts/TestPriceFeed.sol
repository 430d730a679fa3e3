// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title A Chainlink-style price feed for the dev chain and tests: the read side of AggregatorV3Interface
/// (`decimals`, `description`, `version`, `latestRoundData`), with an answer its owner sets.
/// @notice Until an update time is set, the feed keeps its heartbeat: it reports the current block's time as
/// `updatedAt`, so a long-running dev chain never goes stale. `setRoundData` pins the time (tests use it to
/// make the feed as old as they need); `setHeartbeat(true)` lets it follow the chain again.
contract TestPriceFeed {
    address public immutable owner;
    uint8 public immutable decimals;
    uint256 public constant version = 4;
    string public description;

    uint80 private _roundId;
    int256 private _answer;
    uint256 private _updatedAt;
    bool public heartbeat = true;

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    modifier onlyOwner() {
        require(msg.sender == owner, "owner");
        _;
    }

    constructor(uint8 decimals_, string memory description_, int256 answer_) {
        owner = msg.sender;
        decimals = decimals_;
        description = description_;
        _newRound(answer_, block.timestamp);
    }

    /// A new round with this answer, updated now.
    function setAnswer(int256 answer_) external onlyOwner {
        _newRound(answer_, block.timestamp);
    }

    /// A new round with this answer and update time; the feed stops keeping its heartbeat.
    function setRoundData(int256 answer_, uint256 updatedAt_) external onlyOwner {
        heartbeat = false;
        _newRound(answer_, updatedAt_);
    }

    function setHeartbeat(bool on) external onlyOwner {
        heartbeat = on;
    }

    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        uint256 at = heartbeat ? block.timestamp : _updatedAt;
        return (_roundId, _answer, at, at, _roundId);
    }

    function latestAnswer() external view returns (int256) {
        return _answer;
    }

    function _newRound(int256 answer_, uint256 updatedAt_) private {
        _roundId += 1;
        _answer = answer_;
        _updatedAt = updatedAt_;
        emit AnswerUpdated(answer_, _roundId, updatedAt_);
    }
}
