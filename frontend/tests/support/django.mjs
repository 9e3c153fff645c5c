/**
 * Starts the real Kaleido Django server for a test: its own temp SQLite file and media folder,
 * `migrate`, then `runserver` on a free loopback port. Shared by the SDK integration test and
 * the dashboard's browser tests.
 */
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const python = process.env.KALEIDO_PYTHON ?? path.join(repoRoot, ".venv/bin/python");

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export class DjangoServer {
  constructor(name) {
    this.dir = mkdtempSync(path.join(tmpdir(), `kaleido-${name}-`));
    this.env = {
      ...process.env,
      DATABASE_URL: `sqlite:///${path.join(this.dir, "db.sqlite3")}`,
      KALEIDO_VAR_DIR: this.dir,
      MEDIA_ROOT: path.join(this.dir, "media"),
      MODEL_ROOT: path.join(this.dir, "models"),
      DEBUG: "1",
      CELERY_BROKER_URL: "",
      REDIS_URL: "",
      OMP_NUM_THREADS: "1",
      PYTHONUNBUFFERED: "1",
    };
    this.process = undefined;
    this.output = "";
  }

  /** Run a manage.py command against this server's database; resolves with its stdout. */
  async manage(args, { timeoutMs = 240_000 } = {}) {
    try {
      const { stdout } = await run(python, [path.join(repoRoot, "manage.py"), ...args], {
        cwd: repoRoot,
        env: this.env,
        timeout: timeoutMs,
        maxBuffer: 64 * 1024 * 1024,
      });
      return stdout;
    } catch (error) {
      throw new Error(`manage.py ${args.join(" ")} failed:\n${error.stdout ?? ""}\n${error.stderr ?? error.message}`);
    }
  }

  /** Run Python in Django's shell and parse the JSON it prints last. */
  async shellJson(code) {
    const out = await this.manage(["shell", "-c", code]);
    const lines = out.trim().split("\n");
    return JSON.parse(lines[lines.length - 1]);
  }

  writeFile(name, text) {
    const file = path.join(this.dir, name);
    writeFileSync(file, text);
    return file;
  }

  async migrate() {
    await this.manage(["migrate", "--noinput", "-v", "0"]);
  }

  async createApiKey(scopes = "rank,events") {
    const out = await this.manage(["create_api_key", `test-${Date.now()}`, "--scopes", scopes]);
    return out.trim().split("\n").pop().trim();
  }

  /** A staff user in the given role groups (access.roles: analysts, operators, admins). */
  async createStaffUser(username, password, { superuser = false, roles = [] } = {}) {
    await this.shellJson(
      `import json; from django.contrib.auth import get_user_model; from django.contrib.auth.models import Group; ` +
        `U = get_user_model(); u = U.objects.create_user(${JSON.stringify(username)}, password=${JSON.stringify(password)}, ` +
        `is_staff=True, is_superuser=${superuser ? "True" : "False"}); ` +
        `u.groups.set([Group.objects.get_or_create(name=n)[0] for n in ${JSON.stringify(roles)}]); print(json.dumps(u.pk))`,
    );
  }

  async start() {
    this.port = await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    this.process = spawn(python, [path.join(repoRoot, "manage.py"), "runserver", `127.0.0.1:${this.port}`, "--noreload"], {
      cwd: repoRoot,
      env: this.env,
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group: stop() ends the server and whatever it started (joblib's worker processes, which
      // outlive a killed parent for minutes and hold its output pipes, so this test's process could not exit).
      detached: true,
    });
    // A test process that ends without stop() (a failed before()) still takes its server down with it.
    process.once("exit", () => {
      try {
        process.kill(-this.process.pid, "SIGKILL");
      } catch {
        // already stopped
      }
    });
    const collect = (chunk) => {
      this.output = (this.output + chunk.toString()).slice(-20_000);
    };
    this.process.stdout.on("data", collect);
    this.process.stderr.on("data", collect);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (this.process.exitCode !== null) throw new Error(`runserver exited:\n${this.output}`);
      try {
        const response = await fetch(`${this.url}/admin/login/`);
        if (response.ok) return this.url;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`runserver did not answer within 60 s:\n${this.output}`);
  }

  async stop() {
    if (this.process) {
      const group = -this.process.pid;
      const signalGroup = (signal) => {
        try {
          process.kill(group, signal);
        } catch {
          // the whole group is gone already
        }
      };
      if (this.process.exitCode === null && this.process.signalCode === null) {
        const exited = new Promise((resolve) => this.process.once("exit", resolve));
        signalGroup("SIGTERM");
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      }
      signalGroup("SIGKILL"); // anything of the group still there, the server included
      this.process.stdout.destroy();
      this.process.stderr.destroy();
    }
    if (!process.env.KALEIDO_KEEP_TEST_DB) rmSync(this.dir, { recursive: true, force: true });
  }
}
