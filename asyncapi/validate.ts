/**
 * ajv validators for the AsyncAPI document's payload schemas (tests: hand-built messages in
 * test/sdk-contract.test.ts, real relay frames in test/e2e/sdk.e2e.test.ts).
 */
import { Ajv, type ValidateFunction } from "ajv";

/** A validator for component schema `name` of an AsyncAPI document (every component schema available to `$ref`). */
export function asyncApiValidator(
  doc: { components: { schemas: Record<string, unknown> } },
  name: string,
): ValidateFunction {
  // strictTuples off: the generator writes [px, sz] as `items: [..], minItems: 2, maxItems: 2` (draft-07 tuples).
  const ajv = new Ajv({ strict: true, strictTuples: false, allErrors: true });
  ajv.addKeyword({ keyword: "components" }); // the document's container, not a schema keyword
  ajv.addSchema({ $id: "asyncapi", components: doc.components });
  return ajv.compile({ $ref: `asyncapi#/components/schemas/${name}` });
}
