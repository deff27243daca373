/**
 * MarketingSDK: redeem codes through the redeemflow HTTP gateway from web, app or
 * mini-program back ends (seed 000 §八 客户端适配).
 *
 * - Every call carries an Idempotency-Key (yours, or a fresh UUID); a retry reuses it, so a
 *   retried request is the same request and never redeems twice.
 * - Only network failures (no HTTP answer: connection refused/reset, DNS, timeout) are retried,
 *   with bounded exponential back-off. An HTTP answer (2xx/4xx/5xx) is final.
 * - Outcomes come back as a discriminated union on `outcome`; errors before the pipeline
 *   (401, 413, 422, 503...) throw a GatewayError.
 */

export type Env = "web" | "app" | "mini";

export type RefusedOutcome =
  | "NOT_FOUND"
  | "EXPIRED"
  | "NOT_YET_VALID"
  | "ALREADY_USED"
  | "CAMPAIGN_INACTIVE"
  | "PRODUCT_NOT_APPLICABLE"
  | "USER_LIMIT_REACHED"
  | "RATE_LIMITED"
  | "INVALID_REQUEST"
  | "NOT_ELIGIBLE"
  | "TENANT_INACTIVE"
  | "REQUEST_CONFLICT";

/** The code was redeemed (HTTP 200): the grants are on their way to the product services. */
export interface Redeemed {
  outcome: "REDEEMED";
  requestId: string;
  message: string;
  redemptionId: string;
  grantIds: string[];
  httpStatus: number;
}

/** The request was decided and refused (HTTP 400, 404, 409 or 429). */
export interface Refused {
  outcome: RefusedOutcome;
  requestId: string;
  message: string;
  redemptionId: null;
  grantIds: string[];
  httpStatus: number;
  /** Seconds to wait before trying again (RATE_LIMITED). */
  retryAfterSeconds?: number;
}

/** Not decided within the gateway's wait (HTTP 202): ask again with getResult(requestId). */
export interface Pending {
  outcome: "PENDING";
  requestId: string;
  message: string;
  httpStatus: number;
}

export type RedeemResult = Redeemed | Refused | Pending;

export interface MarketingSDKOptions {
  productCode: string;
  env: Env;
  baseUrl: string;
  apiKey: string;
  /** Sent as x-device-id (anti-abuse throttling per device). */
  deviceId?: string;
  /** Per-attempt timeout (default 10 000 ms); a timeout counts as a network error. */
  timeoutMs?: number;
  /** Retries after the first attempt, on network errors only (default 3). */
  maxRetries?: number;
  /** First back-off delay, doubled per retry, with jitter (default 200 ms). */
  retryBaseDelayMs?: number;
  /** Injected fetch (tests, custom agents); defaults to the global fetch. */
  fetch?: typeof fetch;
}

export interface RedeemOptions {
  idempotencyKey?: string;
  userTags?: string[];
}

/** The gateway refused the call itself (bad key, validation, body size, unavailable). */
export class GatewayError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
    readonly fields: { field: string; location: string; message: string }[] = [],
  ) {
    super(`${status} ${error}: ${message}`);
    this.name = "GatewayError";
  }
}

/** No HTTP answer after every allowed attempt. */
export class NetworkError extends Error {
  constructor(
    readonly attempts: number,
    readonly idempotencyKey: string,
    override readonly cause: unknown,
  ) {
    super(`no answer from the gateway after ${attempts} attempt(s): ${String(cause)}`);
    this.name = "NetworkError";
  }
}

const DECIDED = new Set<string>([
  "REDEEMED", "NOT_FOUND", "EXPIRED", "NOT_YET_VALID", "ALREADY_USED", "CAMPAIGN_INACTIVE",
  "PRODUCT_NOT_APPLICABLE", "USER_LIMIT_REACHED", "RATE_LIMITED", "INVALID_REQUEST", "PENDING",
  "NOT_ELIGIBLE", "TENANT_INACTIVE", "REQUEST_CONFLICT",
]);

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

export class MarketingSDK {
  private readonly baseUrl: string;
  private readonly fetcher: typeof fetch;

  constructor(private readonly options: MarketingSDKOptions) {
    if (!options.baseUrl) throw new TypeError("baseUrl is required");
    if (!options.apiKey) throw new TypeError("apiKey is required");
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.fetcher = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** Redeem `code` for `userId`; network failures are retried with the same idempotency key. */
  async redeemCode(code: string, userId: string, opts: RedeemOptions = {}): Promise<RedeemResult> {
    const idempotencyKey = opts.idempotencyKey ?? globalThis.crypto.randomUUID();
    const body = JSON.stringify({
      code, userId, channel: this.options.env, userTags: opts.userTags ?? [],
    });
    const headers: Record<string, string> = {
      ...this.buildHeaders(),
      "content-type": "application/json",
      "idempotency-key": idempotencyKey,
    };
    const response = await this.withRetries(idempotencyKey, () =>
      this.send(`${this.baseUrl}/api/redeem`, { method: "POST", headers, body }),
    );
    return this.parse(response);
  }

  /** The result of an earlier request (after a PENDING answer). */
  async getResult(requestId: string): Promise<RedeemResult> {
    const url = `${this.baseUrl}/api/redeem/${encodeURIComponent(requestId)}`;
    const response = await this.withRetries(requestId, () =>
      this.send(url, { method: "GET", headers: this.buildHeaders() }),
    );
    return this.parse(response);
  }

  private buildHeaders(): Record<string, string> {
    const headers: Record<string, string> = {
      "x-api-key": this.options.apiKey,
      "x-product-code": this.options.productCode,
      accept: "application/json",
    };
    if (this.options.deviceId) headers["x-device-id"] = this.options.deviceId;
    return headers;
  }

  private async send(url: string, init: RequestInit): Promise<Response> {
    const signal = AbortSignal.timeout(this.options.timeoutMs ?? 10_000);
    return this.fetcher(url, { ...init, signal });
  }

  private async withRetries(key: string, attempt: () => Promise<Response>): Promise<Response> {
    const retries = Math.max(0, this.options.maxRetries ?? 3);
    const base = this.options.retryBaseDelayMs ?? 200;
    let lastError: unknown;
    for (let n = 0; n <= retries; n += 1) {
      if (n > 0) await sleep(base * 2 ** (n - 1) * (0.5 + Math.random() / 2));
      try {
        return await attempt(); // any HTTP answer is final: never retried
      } catch (error) {
        lastError = error;
      }
    }
    throw new NetworkError(retries + 1, key, lastError);
  }

  private async parse(response: Response): Promise<RedeemResult> {
    const payload = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    const outcome = payload["outcome"];
    if (typeof outcome === "string" && DECIDED.has(outcome)) {
      const result = { ...payload, httpStatus: response.status } as unknown as RedeemResult;
      const retryAfter = response.headers.get("retry-after");
      if (result.outcome === "RATE_LIMITED" && retryAfter) {
        result.retryAfterSeconds = Number(retryAfter);
      }
      return result;
    }
    throw new GatewayError(
      response.status,
      String(payload["error"] ?? "unexpected_response"),
      String(payload["message"] ?? response.statusText),
      (payload["fields"] as GatewayError["fields"]) ?? [],
    );
  }
}
