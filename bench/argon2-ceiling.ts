/**
 * The ceiling of a password sign-in in `npm run bench`: the CPU one argon2id verification costs
 * at kapu's configured cost, with kapu's own hasher (src/security/passwords.ts), in a process of
 * its own started as kapu is (the same libuv pool size). As many verifications run at once as
 * the pool has threads, as under load in kapu. Prints one JSON line:
 *   { "cpuMsPerVerify": …, "verifies": …, "seconds": … }
 *   BENCH_ARGON2='{"memoryCost":19456,"timeCost":2,"parallelism":1}' BENCH_ARGON2_SECONDS=2 node bench/argon2-ceiling.ts
 */
import { PasswordHasher, type PasswordParams } from '../src/security/passwords.ts';

const params = JSON.parse(process.env['BENCH_ARGON2'] ?? '{}') as PasswordParams;
const seconds = Number(process.env['BENCH_ARGON2_SECONDS'] ?? 2);
const inFlight = Number(process.env['UV_THREADPOOL_SIZE'] ?? 4);
const hasher = new PasswordHasher(params);
const password = 'bench password 1';
const stored = await hasher.hash(password);
// Warm-up: the first verifications page the memory in.
for (let i = 0; i < inFlight * 2; i += 1) await hasher.verify(stored, password);

const cpu0 = process.cpuUsage();
const started = performance.now();
let verifies = 0;
await Promise.all(
  Array.from({ length: inFlight }, async () => {
    while (performance.now() - started < seconds * 1000) {
      const check = await hasher.verify(stored, password);
      if (!check.ok) throw new Error('the bench password did not verify');
      verifies += 1;
    }
  }),
);
const cpu = process.cpuUsage(cpu0);
process.stdout.write(`${JSON.stringify({ cpuMsPerVerify: (cpu.user + cpu.system) / 1000 / verifies, verifies, seconds: (performance.now() - started) / 1000 })}\n`);
