// Validates a batch of JSON instances with ajv (Draft 2020-12 + ajv-formats), for
// tests/unit/test_schema_parity.py. Input on stdin: {"schemas": {name: schema},
// "cases": [[name, instance], ...]}; output on stdout: [true|false, ...] in case order.
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const ajv = new Ajv2020({ strict: true, strictTypes: false, strictRequired: false, allErrors: false });
addFormats(ajv);
ajv.addKeyword("x-redeemflow-checks");
const validators = {};
for (const [name, schema] of Object.entries(input.schemas)) validators[name] = ajv.compile(schema);
const verdicts = input.cases.map(([name, instance]) => validators[name](instance));
process.stdout.write(JSON.stringify(verdicts));
