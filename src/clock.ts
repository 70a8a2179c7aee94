/** Time and randomness come in through these, so tests can move time and pin random values. */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export interface Random {
  /** Uniform integer in [0, max). */
  int(max: number): number;
  bytes(n: number): Buffer;
  uuid(): string;
}

export const cryptoRandom: Random = {
  int: (max) => randomInt(max),
  bytes: (n) => randomBytes(n),
  uuid: () => randomUUID(),
};

/** `n` random decimal digits, leading zeros kept. */
export function digits(random: Random, n: number): string {
  let out = '';
  for (let i = 0; i < n; i += 1) out += String(random.int(10));
  return out;
}

export function addSeconds(date: Date, seconds: number): Date {
  return new Date(date.getTime() + seconds * 1000);
}

/** `promise`, or a rejection with `what timed out after N ms` once `ms` have passed. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
