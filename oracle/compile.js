// Reads JSON lines {"mjml": "...", "filePath": "..."?} on stdin (filePath: where mj-include paths start), writes JSON lines {"html": "...", "errors": [...]}.
// One long-lived process so tests pay Node's start-up once.
const mjml2html = require('mjml');
const readline = require('readline');
const rl = readline.createInterface({ input: process.stdin, terminal: false });
rl.on('line', (line) => {
  let out;
  try {
    const { mjml, filePath } = JSON.parse(line);
    const options = { validationLevel: 'soft', keepComments: true, minify: false };
    const result = mjml2html(mjml, filePath ? { ...options, filePath } : options);
    out = { html: result.html, errors: result.errors.map((e) => e.formattedMessage) };
  } catch (err) {
    out = { error: String(err && err.message || err) };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
});
