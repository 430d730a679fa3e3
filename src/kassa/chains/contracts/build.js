// Compiles the contracts with solc-js (offline: the compiler ships in the npm package) into build/*.json.
// Run: node src/kassa/chains/contracts/build.js   (needs `npm ci --prefix tools`)
const fs = require("fs");
const path = require("path");
const solc = require(path.join(__dirname, "../../../../tools/node_modules/solc"));

const sources = {};
for (const file of ["KassaForwarder.sol", "KassaForwarderFactory.sol", "TestStablecoin.sol", "TestPriceFeed.sol"]) {
  sources[file] = { content: fs.readFileSync(path.join(__dirname, file), "utf8") };
}
const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    // No metadata hash: the bytecode (and so every CREATE2 address) depends only on the code.
    metadata: { bytecodeHash: "none", appendCBOR: false },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error");
if (errors.length) {
  console.error(errors.map((e) => e.formattedMessage).join("\n"));
  process.exit(1);
}
const outDir = path.join(__dirname, "build");
fs.mkdirSync(outDir, { recursive: true });
for (const [file, contracts] of Object.entries(output.contracts)) {
  for (const [name, c] of Object.entries(contracts)) {
    const artifact = {
      contractName: name,
      sourceName: file,
      compiler: `solc-js ${solc.version()}`,
      abi: c.abi,
      bytecode: "0x" + c.evm.bytecode.object,
      deployedBytecode: "0x" + c.evm.deployedBytecode.object,
    };
    fs.writeFileSync(path.join(outDir, `${name}.json`), JSON.stringify(artifact, null, 2) + "\n");
  }
}
console.log("compiled", Object.keys(output.contracts).join(", "));
