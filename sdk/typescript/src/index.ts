/**
 * MarketingSDK: redeem codes through the redeemflow HTTP gateway from browsers, apps and
 * mini-programs (seed 000 §八 客户端适配).
 *
 * Two modes:
 * - browser / mini-program: `getToken` returns a short-lived end-user token minted by the
 *   tenant's back end; it is sent as `Authorization: Bearer`, and the user is the token's.
 *   No secret ever reaches the page. A 401 fetches a fresh token once and tries again.
 * - server: `apiKey` (the tenant's secret key, server side only) and an explicit `userId`.
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
  /** Server mode: the tenant's API key (never ship it to a browser). */
  apiKey?: string;
  /** Browser mode: returns an end-user token from your back end (called again after 401). */
  getToken?: () => string | Promise<string>;
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

/** A v4 UUID (crypto.randomUUID where available, e.g. not in insecure contexts). */
function newKey(): string {
  const c = globalThis.crypto;
  if (typeof c.randomUUID === "function") return c.randomUUID();
  const b = c.getRandomValues(new Uint8Array(16));
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export class MarketingSDK {
  private readonly baseUrl: string;
  private readonly fetcher: typeof fetch;
  private token: string | undefined;

  constructor(private readonly options: MarketingSDKOptions) {
    if (!options.baseUrl) throw new TypeError("baseUrl is required");
    if (!options.apiKey === !options.getToken) {
      throw new TypeError("give exactly one of apiKey (server) or getToken (browser)");
    }
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.fetcher = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /**
   * Redeem `code`. Browser mode: `redeemCode(code, opts?)` (the user is the token's).
   * Server mode: `redeemCode(code, userId, opts?)`. Network failures are retried with the
   * same idempotency key.
   */
  async redeemCode(code: string, opts?: RedeemOptions): Promise<RedeemResult>;
  async redeemCode(code: string, userId: string, opts?: RedeemOptions): Promise<RedeemResult>;
  async redeemCode(
    code: string, userOrOpts?: string | RedeemOptions, maybeOpts: RedeemOptions = {},
  ): Promise<RedeemResult> {
    const userId = typeof userOrOpts === "string" ? userOrOpts : undefined;
    const opts = typeof userOrOpts === "object" ? userOrOpts : maybeOpts;
    if (this.options.apiKey && !userId) throw new TypeError("server mode needs a userId");
    const idempotencyKey = opts.idempotencyKey ?? newKey();
    const body = JSON.stringify({
      code, ...(userId ? { userId } : {}), channel: this.options.env,
      userTags: opts.userTags ?? [],
    });
    const response = await this.authorized(async () => {
      const headers: Record<string, string> = {
        ...(await this.buildHeaders()),
        "content-type": "application/json",
        "idempotency-key": idempotencyKey,
      };
      return this.withRetries(idempotencyKey, () =>
        this.send(`${this.baseUrl}/api/redeem`, { method: "POST", headers, body }),
      );
    });
    return this.parse(response);
  }

  /** The result of an earlier request (after a PENDING answer). */
  async getResult(requestId: string): Promise<RedeemResult> {
    const url = `${this.baseUrl}/api/redeem/${encodeURIComponent(requestId)}`;
    const response = await this.authorized(async () => {
      const headers = await this.buildHeaders();
      return this.withRetries(requestId, () => this.send(url, { method: "GET", headers }));
    });
    return this.parse(response);
  }

  /** Browser mode: one more attempt with a fresh token after a 401 (it may have expired). */
  private async authorized(call: () => Promise<Response>): Promise<Response> {
    const response = await call();
    if (response.status !== 401 || !this.options.getToken) return response;
    const stale = this.token;
    this.token = undefined;
    const fresh = await this.currentToken();
    return fresh === stale ? response : call();
  }

  private async currentToken(): Promise<string> {
    if (this.token === undefined) this.token = await this.options.getToken?.();
    if (!this.token) throw new TypeError("getToken returned no token");
    return this.token;
  }

  private async buildHeaders(): Promise<Record<string, string>> {
    const headers: Record<string, string> = {
      "x-product-code": this.options.productCode,
      accept: "application/json",
    };
    if (this.options.apiKey) headers["x-api-key"] = this.options.apiKey;
    else headers["authorization"] = `Bearer ${await this.currentToken()}`;
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
