/** sharedRead: concurrent and recent callers share one read; a failure is not kept. */
import { describe, expect, it } from "vitest";
import { sharedRead } from "../src/dashboard/shared-read.js";

describe("sharedRead", () => {
  it("gives concurrent callers the same read, and reads again once the ttl has passed", async () => {
    let reads = 0;
    const read = sharedRead(async () => {
      reads += 1;
      await new Promise((r) => setTimeout(r, 20));
      return reads;
    }, { ttlMs: 50 });
    expect(await Promise.all([read(), read(), read()])).toEqual([1, 1, 1]);
    expect(await read()).toBe(1);
    await new Promise((r) => setTimeout(r, 60));
    expect(await read()).toBe(2);
  });

  it("with ttl 0 shares only reads still running", async () => {
    let reads = 0;
    const read = sharedRead(async () => ++reads, { ttlMs: 0 });
    expect(await Promise.all([read(), read()])).toEqual([1, 1]);
    await new Promise((r) => setTimeout(r, 1));
    expect(await read()).toBe(2);
  });

  it("does not keep a failure", async () => {
    let reads = 0;
    const read = sharedRead(async () => {
      reads += 1;
      if (reads === 1) throw new Error("database unavailable");
      return "ok";
    }, { ttlMs: 10_000 });
    await expect(read()).rejects.toThrow("database unavailable");
    await new Promise((r) => setTimeout(r, 1));
    expect(await read()).toBe("ok");
  });
});
