// The directory lock shared by training runs (run.lock) and searches (search.lock): a live holder
// is refused, a dead one's lock is taken over, and when several processes take over one stale
// lock at once exactly one of them gets it (issue 16, item 11).
import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { lockDir, lockHolder } from "../runtime/node/lock";

const tmp = () => mkdtempSync(join(tmpdir(), "dnnc-lock-"));
const opts = { file: "run.lock", busy: (h: { pid: number; path: string }) => `busy: pid ${h.pid} holds ${h.path}` };
const DEAD = 2147483646; // no such process

describe("directory lock", () => {
  it("holds the pid and host, refuses a second taker while held, and is gone once released", () => {
    const d = tmp();
    const lock = lockDir(d, opts);
    expect(readFileSync(join(d, "run.lock"), "utf8")).toBe(`${process.pid}\n${hostname()}\n`);
    expect(lockHolder(d, "run.lock")?.pid).toBe(process.pid);
    expect(() => lockDir(d, opts)).toThrow(`busy: pid ${process.pid} holds ${join(d, "run.lock")}`);
    lock.release();
    expect(existsSync(join(d, "run.lock"))).toBe(false);
    lock.release(); // idempotent
    lockDir(d, opts).release();
  });

  it("takes over the lock of a dead process, an empty one left by a kill, and the pid-only search.lock of earlier versions", () => {
    const d = tmp();
    writeFileSync(join(d, "run.lock"), `${DEAD}\n${hostname()}\n`);
    expect(lockHolder(d, "run.lock")).toBeUndefined();
    lockDir(d, opts).release();
    writeFileSync(join(d, "run.lock"), "");
    lockDir(d, opts).release();
    writeFileSync(join(d, "search.lock"), String(DEAD));
    lockDir(d, { ...opts, file: "search.lock" }).release();
    writeFileSync(join(d, "search.lock"), String(process.ppid)); // alive: refused
    expect(() => lockDir(d, { ...opts, file: "search.lock" })).toThrow(`busy: pid ${process.ppid}`);
  });

  it("refuses a lock held on another host (its process cannot be checked from here)", () => {
    const d = tmp();
    writeFileSync(join(d, "run.lock"), `${DEAD}\nanother-host\n`);
    expect(() => lockDir(d, opts)).toThrow(`busy: pid ${DEAD}`);
  });

  it("is released when its process exits, left by a SIGKILL and then taken over", async () => {
    const d = tmp();
    const script = join(d, "hold.mts");
    writeFileSync(
      script,
      `import { lockDir } from ${JSON.stringify(resolve("runtime/node/lock.ts"))};
lockDir(process.argv[2], { file: "run.lock", busy: () => "busy" });
process.stdout.write("locked\\n");
if (process.argv[3] === "hold") setInterval(() => {}, 1000);
`,
    );
    const ended = spawn(process.execPath, ["--import", "tsx", script, d], { stdio: ["ignore", "pipe", "inherit"] });
    expect(await new Promise((r) => ended.on("exit", r))).toBe(0);
    expect(existsSync(join(d, "run.lock"))).toBe(false);
    const held = spawn(process.execPath, ["--import", "tsx", script, d, "hold"], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((r) => held.stdout.once("data", () => r()));
    expect(() => lockDir(d, opts)).toThrow(`busy: pid ${held.pid}`);
    held.kill("SIGKILL");
    await new Promise((r) => held.on("exit", r));
    expect(readFileSync(join(d, "run.lock"), "utf8").split("\n")[0]).toBe(String(held.pid));
    lockDir(d, opts).release();
  });

  it("six processes taking over one stale lock at once: exactly one gets it", async () => {
    const d = tmp();
    writeFileSync(join(d, "run.lock"), `${DEAD}\n${hostname()}\n`);
    const script = join(d, "race.mts");
    writeFileSync(
      script,
      `import { existsSync, writeFileSync } from "node:fs";
import { lockDir } from ${JSON.stringify(resolve("runtime/node/lock.ts"))};
const [dir, id] = process.argv.slice(2);
writeFileSync(dir + "/ready-" + id, "");
while (!existsSync(dir + "/go")) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
try {
  lockDir(dir, { file: "run.lock", busy: (h) => "refused by " + h.pid });
  process.stdout.write("won");
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500); // hold it while the others try
} catch (e) {
  process.stdout.write(e.message);
}
`,
    );
    const N = 6;
    const kids = Array.from({ length: N }, (_, i) =>
      spawn(process.execPath, ["--import", "tsx", script, d, String(i)], { stdio: ["ignore", "pipe", "inherit"] }),
    );
    const outs = kids.map((k) => {
      let s = "";
      k.stdout.on("data", (c) => (s += c));
      return new Promise<string>((r) => k.on("exit", () => r(s)));
    });
    for (let i = 0; i < N; i++) while (!existsSync(join(d, `ready-${i}`))) await new Promise((r) => setTimeout(r, 10));
    writeFileSync(join(d, "go"), "");
    const results = await Promise.all(outs);
    const winners = results.map((r, i) => (r === "won" ? kids[i].pid : undefined)).filter((x) => x !== undefined);
    expect(winners, results.join(" | ")).toHaveLength(1);
    for (const r of results) if (r !== "won") expect(r).toBe(`refused by ${winners[0]}`);
    expect(existsSync(join(d, "run.lock"))).toBe(false); // the winner's exit released it
    expect(existsSync(join(d, "run.lock.takeover"))).toBe(false);
  });
});
