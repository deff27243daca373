/**
 * Runs against a live gateway + worker (started by tests/e2e/test_sdk.py), configured by env:
 * GATEWAY_URL, API_KEY, PRODUCT_CODE, VALID_CODE, VALID_CODE_2, VALID_CODE_3, USED_CODE, and
 * TOKEN (an end-user token of the tenant, for browser mode).
 */
import assert from "node:assert/strict";
import { test } from "node:test";

import { GatewayError, MarketingSDK, NetworkError, type RedeemResult } from "../src/index.js";

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name} (run through tests/e2e/test_sdk.py)`);
  return value;
}

interface Counted {
  fetch: typeof fetch;
  calls: { url: string; idempotencyKey: string | null }[];
}

/** A fetch that records each call and throws a network error for the first `failures`. */
function counting(failures = 0): Counted {
  const calls: Counted["calls"] = [];
  const wrapped: typeof fetch = async (input, init) => {
    const headers = new Headers(init?.headers);
    calls.push({ url: String(input), idempotencyKey: headers.get("idempotency-key") });
    if (calls.length <= failures) throw new TypeError("fetch failed (simulated reset)");
    return fetch(input, init);
  };
  return { fetch: wrapped, calls };
}

function sdk(extra: Partial<ConstructorParameters<typeof MarketingSDK>[0]> = {}): MarketingSDK {
  return new MarketingSDK({
    productCode: env("PRODUCT_CODE"), env: "web", baseUrl: env("GATEWAY_URL"),
    apiKey: env("API_KEY"), retryBaseDelayMs: 10, ...extra,
  });
}

const user = (): string => `sdk${Math.random().toString(36).slice(2, 10)}`;

test("redeems a valid code, and the same idempotency key gives the same answer", async () => {
  const key = `sdk-${globalThis.crypto.randomUUID()}`;
  const who = user();
  const first = await sdk().redeemCode(env("VALID_CODE"), who, { idempotencyKey: key });
  assert.equal(first.outcome, "REDEEMED", JSON.stringify(first));
  if (first.outcome === "REDEEMED") {
    assert.equal(first.httpStatus, 200);
    assert.ok(first.redemptionId.length > 0);
    assert.equal(first.grantIds.length, 1);
  }
  const again = await sdk().redeemCode(env("VALID_CODE"), who, { idempotencyKey: key });
  assert.deepEqual(again, first);
  const looked = await sdk().getResult(first.requestId);
  assert.deepEqual(looked, first);
});

test("a used code is ALREADY_USED (409) and is not retried", async () => {
  const counted = counting();
  const result: RedeemResult = await sdk({ fetch: counted.fetch }).redeemCode(
    env("USED_CODE"), user(),
  );
  assert.equal(result.outcome, "ALREADY_USED");
  assert.equal(result.httpStatus, 409);
  assert.equal(counted.calls.length, 1);
});

test("an unknown code is NOT_FOUND with the generic message", async () => {
  const result = await sdk().redeemCode("NOPE-NOPE-NOPE", user());
  assert.equal(result.outcome, "NOT_FOUND");
  assert.equal(result.httpStatus, 404);
  assert.equal(result.message, "invalid or unknown code");
});

test("a wrong API key throws GatewayError 401 without retrying", async () => {
  const counted = counting();
  const bad = sdk({ apiKey: "rfk_000000000000_" + "A".repeat(43), fetch: counted.fetch });
  await assert.rejects(bad.redeemCode(env("VALID_CODE_2"), user()), (error: unknown) => {
    assert.ok(error instanceof GatewayError);
    assert.equal(error.status, 401);
    return true;
  });
  assert.equal(counted.calls.length, 1);
});

test("network errors are retried with the same idempotency key", async () => {
  const counted = counting(2);
  const result = await sdk({ fetch: counted.fetch, maxRetries: 3 }).redeemCode(
    env("VALID_CODE_2"), user(),
  );
  assert.equal(result.outcome, "REDEEMED", JSON.stringify(result));
  assert.equal(counted.calls.length, 3);
  const keys = new Set(counted.calls.map((c) => c.idempotencyKey));
  assert.equal(keys.size, 1);
  assert.ok([...keys][0]);
});

test("retries are bounded and end in a NetworkError", async () => {
  const counted = counting(100);
  const client = sdk({ fetch: counted.fetch, maxRetries: 2 });
  await assert.rejects(client.redeemCode("ANY-CODE", user(), { idempotencyKey: "fixed-key" }),
    (error: unknown) => {
      assert.ok(error instanceof NetworkError);
      assert.equal(error.attempts, 3);
      assert.equal(error.idempotencyKey, "fixed-key");
      return true;
    });
  assert.equal(counted.calls.length, 3);
});

test("validation errors name the field", async () => {
  await assert.rejects(sdk().redeemCode("BAD CODE!", user()), (error: unknown) => {
    assert.ok(error instanceof GatewayError);
    assert.equal(error.status, 422);
    assert.ok(error.fields.some((f) => f.field === "code"));
    return true;
  });
});

test("browser mode: the token's user, and one retry with a fresh token after a 401", async () => {
  const handed: string[] = [];
  const tokens = ["expired-or-garbage-token", env("TOKEN")];
  const counted = counting();
  const browser = new MarketingSDK({
    productCode: env("PRODUCT_CODE"), env: "web", baseUrl: env("GATEWAY_URL"),
    fetch: counted.fetch,
    getToken: () => {
      const token = tokens.shift() ?? env("TOKEN");
      handed.push(token);
      return token;
    },
  });
  const result = await browser.redeemCode(env("VALID_CODE_3"), { idempotencyKey: "tok-1" });
  assert.equal(result.outcome, "REDEEMED", JSON.stringify(result));
  assert.equal(handed.length, 2);
  assert.equal(counted.calls.length, 2);
  assert.deepEqual(new Set(counted.calls.map((c) => c.idempotencyKey)), new Set(["tok-1"]));
  assert.deepEqual(await browser.getResult(result.requestId), result);
  assert.throws(() => new MarketingSDK({
    productCode: "P", env: "web", baseUrl: "http://x", apiKey: "k", getToken: () => "t",
  }), TypeError);
});
