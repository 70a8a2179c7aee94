/**
 * Reading a new password for the CLI, never from argv: piped stdin (all of it, one trailing
 * newline stripped) or, on a terminal, a prompt with echo off, asked twice.
 */
import type { ReadStream } from 'node:tty';
import { PASSWORD_MAX_LENGTH } from '../security/passwords.ts';
import { Interrupted, UsageError } from './args.ts';
import type { CliIo } from './context.ts';

/** Bytes read from a pipe at most: the longest allowed password in 4-byte UTF-8, plus CRLF. */
const MAX_STDIN_BYTES = PASSWORD_MAX_LENGTH * 4 + 2;

export async function readNewPassword(io: CliIo, username: string): Promise<string> {
  const { stdin } = io;
  let password: string;
  if (typeof stdin === 'string') {
    password = stripOneNewline(stdin);
  } else if (isTerminal(stdin)) {
    password = await promptHidden(stdin, io.stderr, `New password for ${username}: `);
    const again = await promptHidden(stdin, io.stderr, 'Repeat the password: ');
    if (again !== password) throw new UsageError('the two passwords differ');
  } else {
    password = stripOneNewline(await readAll(stdin));
  }
  // A browser's password field cannot hold a line break, so such a password could never be
  // typed at sign-in: most likely a file with more than one line was piped in.
  if (/[\r\n\0]/.test(password)) throw new UsageError('the password must be a single line (one trailing newline is ignored)');
  return password;
}

function stripOneNewline(text: string): string {
  return text.replace(/\r?\n$/, '');
}

export function isTerminal(stream: NodeJS.ReadableStream | string): stream is ReadStream {
  if (typeof stream === 'string') return false;
  return (stream as Partial<ReadStream>).isTTY === true && typeof (stream as Partial<ReadStream>).setRawMode === 'function';
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > MAX_STDIN_BYTES) throw new UsageError(`password must be at most ${PASSWORD_MAX_LENGTH} characters`);
    chunks.push(buffer);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new UsageError('the password on stdin is not valid UTF-8');
  }
}

/** Reads one line from a terminal in raw mode, echoing nothing. */
function promptHidden(input: ReadStream, write: (s: string) => void, prompt: string): Promise<string> {
  write(prompt);
  const wasRaw = input.isRaw;
  input.setRawMode(true);
  input.setEncoding('utf8');
  input.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (outcome: () => void) => {
      input.off('data', onData);
      input.setRawMode(wasRaw);
      input.pause();
      write('\n');
      outcome();
    };
    const onData = (chunk: string) => {
      // Arrow and function keys arrive as escape sequences: they are not part of a password.
      // eslint-disable-next-line no-control-regex
      for (const ch of chunk.replace(/\u001b(\[[0-9;]*[A-Za-z~]|O.|.)?/g, '')) {
        if (ch === '\r' || ch === '\n') return finish(() => resolve(value));
        if (ch === '\u0003') return finish(() => reject(new Interrupted('cancelled')));
        if (ch === '\u0004') {
          if (value === '') return finish(() => reject(new UsageError('no password given')));
          return finish(() => resolve(value));
        }
        if (ch === '\u007f' || ch === '\b') {
          value = [...value].slice(0, -1).join('');
          continue;
        }
        if (ch === '\u0015') {
          value = ''; // Ctrl-U: start over
          continue;
        }
        if (ch < ' ') continue;
        value += ch;
      }
    };
    input.on('data', onData);
  });
}
