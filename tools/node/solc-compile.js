// Compiles a Solidity standard-JSON input (stdin) with the pinned solc-js and
// prints the standard-JSON output (stdout). Used by cipherproof-onchain; never
// downloads a compiler: `solc` is the npm package pinned in package.json.
const solc = require('solc');
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const output = JSON.parse(solc.compile(input));
  output.solcVersion = solc.version();
  process.stdout.write(JSON.stringify(output));
});
