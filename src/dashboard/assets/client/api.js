/**
 * Requests to the dashboard's JSON API (/api/, shapes in ../api-types.d.ts). Changes (POST) carry the
 * page's CSRF token; a 401 means the session ended, so the browser goes to the login page and comes back.
 */
import { setServerNow } from "./format.js";

const CSRF = document.querySelector('meta[name="csrf-token"]')?.getAttribute("content") ?? "";

/** An answer other than 2xx, with the server's one-line message. */
export class ApiError extends Error {
  /**
   * @param {string} message
   * @param {number} status the HTTP status
   */
  constructor(message, status) {
    super(message);
    this.name = "ApiError";
    /** @readonly */
    this.status = status;
  }
}

/**
 * What to show of a failure: its message (ApiError, a network error, a fault in a page's code).
 * @param {unknown} err
 */
export function errorMessage(err) {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Sends a request and reads its JSON answer (T: its shape, from api-types.d.ts). Rejects with an
 * ApiError on an error status, with the fetch's own error when the dashboard cannot be reached.
 * @template T
 * @param {"GET" | "POST"} method
 * @param {string} url
 * @param {object} [body] sent as JSON (POST only)
 * @returns {Promise<T>}
 */
export async function request(method, url, body) {
  /** @type {Record<string, string>} */
  const headers = { accept: "application/json" };
  /** @type {RequestInit} */
  const init = { method, headers, credentials: "same-origin" };
  if (method !== "GET") {
    headers["content-type"] = "application/json";
    headers["x-csrf-token"] = CSRF;
    init.body = JSON.stringify(body ?? {});
  }
  const res = await fetch(url, init);
  if (res.status === 401) {
    location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
    throw new ApiError("login required", 401);
  }
  /** @type {unknown} */
  const data = await res.json().catch(() => ({}));
  const fields = typeof data === "object" && data !== null ? /** @type {{ error?: unknown, now?: unknown }} */ (data) : {};
  if (!res.ok) {
    throw new ApiError(typeof fields.error === "string" && fields.error ? fields.error : "the dashboard answered HTTP " + res.status, res.status);
  }
  if (typeof fields.now === "string") setServerNow(fields.now);
  return /** @type {T} */ (data);
}
